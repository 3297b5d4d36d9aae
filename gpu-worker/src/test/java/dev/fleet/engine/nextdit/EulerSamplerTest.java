package dev.fleet.engine.nextdit;

import static dev.fleet.engine.TensorAsserts.floats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.TensorAssert;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** NewBie's shifted grid, Euler steps and guidance against the fixture's sampling loop. */
class EulerSamplerTest {

  @Test
  void gridIsTheShiftedLinspace() {
    JsonNode c = NewbieFixture.caseJson();
    float[] grid =
        ShiftedSchedule.grid(c.get("steps").asInt(), (float) c.get("time_shift").asDouble());
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED)) {
      float[] want = floats(expected, "pipe.t");
      assertEquals(want.length, grid.length);
      double err = TensorAssert.relErr(want, grid);
      assertTrue(err <= 1e-6, "grid rel L2 " + err);
    }
    assertEquals(0f, grid[0]);
    assertEquals(1f, grid[grid.length - 1]);
    assertThrows(IllegalArgumentException.class, () -> ShiftedSchedule.grid(0, 6f));
  }

  @Test
  void eulerWithTruncatedClampedGuidanceReproducesTheLatentsStepByStep() {
    JsonNode c = NewbieFixture.caseJson();
    int steps = c.get("steps").asInt();
    EulerSampler sampler =
        new EulerSampler(
            steps,
            (float) c.get("time_shift").asDouble(),
            new GuidedVelocity(
                (float) c.get("cfg_scale").asDouble(),
                (float) c.get("cfg_trunc").asDouble(),
                (float) c.get("renorm_cfg").asDouble()));
    try (TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        TensorStore store =
            TensorStore.open(NewbieFixture.TRANSFORMER.resolve("newbie.safetensors"));
        NextDitTransformer model =
            NextDitTransformer.load(
                new Weights(store, ComputeTarget.cpu()),
                NextDitParams.read(NewbieFixture.TRANSFORMER));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      List<Double> latentErrs = new ArrayList<>();
      List<Double> velocityErrs = new ArrayList<>();
      List<Integer> guided = new ArrayList<>();
      List<Integer> clamped = new ArrayList<>();
      NDArray out =
          sampler.sample(
              model,
              NewbieFixture.load(expected, "pipe.noise", m),
              NewbieFixture.load(expected, "pipe.cap_feats", m),
              NewbieFixture.load(expected, "pipe.cap_mask", m),
              NewbieFixture.load(expected, "pipe.clip_text_pooled", m),
              (k, latents, velocity, applied) -> {
                latentErrs.add(NewbieFixture.relErr(expected, "pipe.latents.step" + k, latents));
                velocityErrs.add(
                    NewbieFixture.relErr(expected, "pipe.velocity.step" + (k - 1), velocity));
                guided.add(applied.guided() ? 1 : 0);
                clamped.add(applied.clamped() ? 1 : 0);
              });
      System.out.println("newbie latents rel L2 per step " + latentErrs);
      System.out.println("newbie velocity rel L2 per step " + velocityErrs);
      assertEquals(steps, latentErrs.size());
      for (int k = 0; k < steps; k++) {
        assertTrue(latentErrs.get(k) <= 1e-3, "step " + (k + 1) + " " + latentErrs.get(k));
        assertTrue(velocityErrs.get(k) <= 1e-3, "velocity " + k + " " + velocityErrs.get(k));
      }
      assertEquals(ints(c.get("cfg_applied")), guided);
      assertEquals(ints(c.get("renorm_clamped")), clamped);
      double last = NewbieFixture.relErr(expected, "pipe.latents.step" + steps, out);
      assertTrue(last <= 1e-3, "final latents " + last);
      assertEquals(m, out.getManager());
    }
  }

  private static List<Integer> ints(JsonNode array) {
    List<Integer> out = new ArrayList<>();
    array.forEach(v -> out.add(v.asInt()));
    return out;
  }
}
