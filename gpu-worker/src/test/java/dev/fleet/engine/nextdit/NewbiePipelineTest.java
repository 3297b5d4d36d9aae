package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The whole NewBie pipeline on the fixture's case, from the prompts to expected.png. */
class NewbiePipelineTest {

  static NewbieRequest fixtureRequest() {
    JsonNode c = NewbieFixture.caseJson();
    return new NewbieRequest(
        c.get("prompt").asText(),
        c.get("negative_prompt").asText(),
        c.get("system_prompt").asText(),
        c.get("seed").asLong(),
        c.get("width").asInt(),
        c.get("height").asInt(),
        c.get("steps").asInt(),
        (float) c.get("cfg_scale").asDouble(),
        (float) c.get("cfg_trunc").asDouble(),
        (float) c.get("renorm_cfg").asDouble(),
        (float) c.get("time_shift").asDouble());
  }

  @Test
  void textFeaturesMatchTheReferencePipeline() {
    try (NewbiePipeline pipeline =
            NewbiePipeline.load(NewbieFixture.DIR, NewbieFixture.VAE, ComputeTarget.cpu());
        TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray[] text = pipeline.encodeText(fixtureRequest(), m);
      double cap = NewbieFixture.relErr(expected, "pipe.cap_feats", text[0]);
      double pooled = NewbieFixture.relErr(expected, "pipe.clip_text_pooled", text[2]);
      System.out.printf("newbie text: cap_feats %.3e, pooled %.3e%n", cap, pooled);
      assertTrue(cap <= 1e-4, "cap_feats " + cap);
      assertTrue(pooled <= 1e-4, "pooled " + pooled);
      assertArrayEquals(
          NewbieFixture.load(expected, "pipe.cap_mask", m).toLongArray(), text[1].toLongArray());
    }
  }

  @Test
  void generatesTheFixturesImage() {
    NewbieRequest request = fixtureRequest();
    List<Double> latentErrs = new ArrayList<>();
    try (NewbiePipeline pipeline =
            NewbiePipeline.load(NewbieFixture.DIR, NewbieFixture.VAE, ComputeTarget.cpu());
        TensorStore expected = TensorStore.open(NewbieFixture.EXPECTED)) {
      NewbieImage image =
          pipeline.generate(
              request,
              (k, latents, velocity, applied) ->
                  latentErrs.add(NewbieFixture.relErr(expected, "pipe.latents.step" + k, latents)));
      System.out.println("newbie pipeline latents rel L2 per step " + latentErrs);
      assertEquals(request.steps(), latentErrs.size());
      for (double e : latentErrs) {
        assertTrue(e <= 1e-3, "latents rel L2 " + e);
      }
      BufferedImage want = ImageAssert.readPng(NewbieFixture.EXPECTED_PNG);
      BufferedImage got = ImageAssert.readPng(image.png());
      System.out.println("newbie vs expected.png: " + ImageAssert.compare(want, got));
      ImageAssert.assertClose(want, got, "newbie vs the reference's expected.png");
    }
  }
}
