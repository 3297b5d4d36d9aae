package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.text.TextEmbeddings;

/**
 * A prompt's conditioning kept in host memory as float32 (exact for float16 and float32
 * embeddings), so that it outlives the text encoders and the job that computed it.
 *
 * @param t5 the T5 last hidden state (1, L, d_model), flattened
 * @param t5Shape its shape
 * @param clipPooled the CLIP pooled output (1, C), flattened
 * @param clipShape its shape
 */
public record HostEmbeddings(float[] t5, long[] t5Shape, float[] clipPooled, long[] clipShape) {

  public HostEmbeddings {
    t5Shape = t5Shape.clone();
    clipShape = clipShape.clone();
    if (new Shape(t5Shape).size() != t5.length
        || new Shape(clipShape).size() != clipPooled.length) {
      throw new IllegalArgumentException("embedding values do not match their shapes");
    }
  }

  /** Copies device embeddings to the host. */
  public static HostEmbeddings of(TextEmbeddings e) {
    return new HostEmbeddings(
        floats(e.t5()),
        e.t5().getShape().getShape(),
        floats(e.clipPooled()),
        e.clipPooled().getShape().getShape());
  }

  private static float[] floats(NDArray a) {
    NDArray f = a.toType(DataType.FLOAT32, false);
    float[] out = f.toFloatArray();
    if (f != a) {
      f.close();
    }
    return out;
  }

  /** Host bytes of the values. */
  public long bytes() {
    return 4L * (t5.length + clipPooled.length);
  }

  /** Device bytes of {@link #toDevice} in {@code dtype}. */
  public long deviceBytes(DataType dtype) {
    return (long) dtype.getNumOfBytes() * (t5.length + clipPooled.length);
  }

  /** The embeddings on {@code manager}'s device in {@code dtype}, owned by {@code manager}. */
  public TextEmbeddings toDevice(NDManager manager, DataType dtype) {
    return new TextEmbeddings(
        onDevice(manager, t5, t5Shape, dtype), onDevice(manager, clipPooled, clipShape, dtype));
  }

  private static NDArray onDevice(NDManager m, float[] v, long[] shape, DataType dtype) {
    NDArray f = m.create(v, new Shape(shape));
    if (dtype == DataType.FLOAT32) {
      return f;
    }
    NDArray out = f.toType(dtype, false);
    f.close();
    return out;
  }
}
