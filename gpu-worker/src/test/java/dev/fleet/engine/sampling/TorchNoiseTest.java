package dev.fleet.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class TorchNoiseTest {

  @Test
  void mersenneTwisterMatchesTheStandardSequence() {
    // The first output of mt19937 seeded with 5489 is 3499211612 (C++ standard, [rand.predef]).
    assertEquals(3499211612L, new TorchNoise(5489).next32() & 0xffffffffL);
  }

  @Test
  void seedReproducesTorchRandnOfTheFixture() throws Exception {
    long seed = new ObjectMapper().readTree(Fixtures.CASE.toFile()).get("seed").asLong();
    try (TensorStore s = TensorStore.open(Fixtures.EXPECTED)) {
      FloatBuffer expected = s.bytes("pipe.noise").asFloatBuffer();
      float[] noise = new TorchNoise(seed).randn(expected.remaining());
      double diff = 0;
      double norm = 0;
      float maxAbs = 0;
      for (int i = 0; i < noise.length; i++) {
        float e = expected.get(i);
        diff += (noise[i] - e) * (double) (noise[i] - e);
        norm += e * (double) e;
        maxAbs = Math.max(maxAbs, Math.abs(noise[i] - e));
      }
      assertTrue(Math.sqrt(diff / norm) < 1e-6, "rel L2 " + Math.sqrt(diff / norm));
      assertTrue(maxAbs < 1e-5, "max abs " + maxAbs);
    }
  }

  @Test
  void sizesNotMultipleOf16RedrawTheTail() {
    float[] a = new TorchNoise(7).randn(40);
    float[] b = new TorchNoise(7).randn(32);
    for (int i = 0; i < 16; i++) {
      assertEquals(b[i], a[i], 0f);
    }
    assertEquals(40, a.length);
  }
}
