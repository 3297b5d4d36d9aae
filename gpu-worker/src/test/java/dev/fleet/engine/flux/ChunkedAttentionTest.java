package dev.fleet.engine.flux;

import static dev.fleet.testing.TensorAssert.relErr;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.Fixtures;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Attention in query chunks equals unchunked attention, in the DiT and on its own. */
class ChunkedAttentionTest {
  private static final Path TRANSFORMER = Fixtures.MODEL.resolve("transformer");

  @Test
  void chunkedDitEqualsEagerOnTheFixture() {
    FluxParams params = FluxParams.fromJson(TRANSFORMER.resolve("config.json"));
    try (TensorStore store = TensorStore.open(TRANSFORMER.resolve("flux.safetensors"));
        TensorStore inputs = TensorStore.open(Fixtures.EXPECTED);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Weights w = new Weights(store, ComputeTarget.cpu());
      float[] eager;
      try (FluxTransformer model = FluxTransformer.load(w, params)) {
        eager = StreamedBlocksTest.forward(model, m, inputs).toFloatArray();
      }
      // 80 joint tokens: chunks of 7 leave a remainder, 80 and more are one chunk.
      for (int chunk : new int[] {1, 7, 32, 80, 1000}) {
        List<Long> rows = new ArrayList<>();
        AttentionKernel recording =
            (q, k, v) -> {
              rows.add(q.getShape().get(2));
              return AttentionKernel.EAGER.attend(q, k, v);
            };
        try (FluxTransformer model =
            FluxTransformer.load(
                w,
                params,
                mm -> ResidentBlocks.load(w, params, mm),
                new ChunkedAttention(chunk, recording))) {
          model.manager().cap();
          float[] out = StreamedBlocksTest.forward(model, m, inputs).toFloatArray();
          double err = relErr(eager, out);
          System.out.printf("DiT with attention chunk %d: rel L2 vs eager %.3e%n", chunk, err);
          assertTrue(err <= 1e-5, "chunk " + chunk + ": " + err);
        }
        long most = rows.stream().mapToLong(Long::longValue).max().orElseThrow();
        assertEquals(Math.min(chunk, 80), most, "no chunk over " + chunk + " query rows");
      }
    }
  }

  @Test
  void chunksFollowTheInnerKernelAndKeepTheCallersManager() {
    try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray q = m.randomNormal(0, 1, new Shape(2, 3, 37, 8), DataType.FLOAT32);
      NDArray k = m.randomNormal(0, 1, new Shape(2, 3, 37, 8), DataType.FLOAT32);
      NDArray v = m.randomNormal(0, 1, new Shape(2, 3, 37, 8), DataType.FLOAT32);
      NDArray want = AttentionKernel.EAGER.attend(q, k, v);
      int before = m.getManagedArrays().size();
      NDArray got = ChunkedAttention.eager(5).attend(q, k, v);
      assertEquals(want.getShape(), got.getShape());
      assertEquals(m, got.getManager());
      assertEquals(before + 1, m.getManagedArrays().size(), "only the result is left");
      assertTrue(relErr(want.toFloatArray(), got.toFloatArray()) <= 1e-6);
    }
  }

  @Test
  void badChunkIsRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> ChunkedAttention.eager(0));
    assertTrue(e.getMessage().contains("chunk"), e.getMessage());
  }
}
