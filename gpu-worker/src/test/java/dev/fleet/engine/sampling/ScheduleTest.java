package dev.fleet.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class ScheduleTest {

  @Test
  void matchesReferenceScheduleBitForBit() throws Exception {
    JsonNode c = new ObjectMapper().readTree(Fixtures.CASE.toFile());
    float[] t = Schedule.timesteps(c.get("steps").asInt(), c.get("image_seq_len").asInt(), true);
    float[] expected = new float[c.get("timesteps").size()];
    for (int i = 0; i < expected.length; i++) {
      expected[i] = (float) c.get("timesteps").get(i).asDouble();
    }
    assertArrayEquals(expected, t);
    try (TensorStore s = TensorStore.open(Fixtures.EXPECTED)) {
      FloatBuffer fb = s.bytes("pipe.timesteps").asFloatBuffer();
      for (int i = 0; i < t.length; i++) {
        assertEquals(fb.get(i), t[i], 0f, "timestep " + i);
      }
    }
  }

  @Test
  void unshiftedIsLinearAndEndpointsAreExact() {
    float[] t = Schedule.timesteps(4, 4096, false);
    assertArrayEquals(new float[] {1f, 0.75f, 0.5f, 0.25f, 0f}, t);
    float[] s = Schedule.timesteps(28, 4096, true);
    assertEquals(1f, s[0]);
    assertEquals(0f, s[28]);
    for (int i = 1; i < s.length; i++) {
      assertEquals(true, s[i] < s[i - 1], "decreasing at " + i);
    }
  }

  @Test
  void refusesZeroSteps() {
    assertThrows(IllegalArgumentException.class, () -> Schedule.timesteps(0, 16, true));
  }
}
