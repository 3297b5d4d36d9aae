package dev.fleet.engine.flux;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * Attention computed for {@code chunk} query rows at a time, so that the (B, H, Lq, Lk) scores
 * never exist whole: at most (B, H, chunk, Lk) of them do. Each query row's softmax depends only on
 * its own scores, so the result is the unchunked one up to rounding.
 *
 * @param chunk query rows per call of {@code inner}
 * @param inner the kernel each chunk runs through (e.g. {@link AttentionKernel#EAGER})
 */
public record ChunkedAttention(int chunk, AttentionKernel inner) implements AttentionKernel {

  public ChunkedAttention {
    if (chunk < 1) {
      throw new IllegalArgumentException("attention chunk must be >= 1 query row, got " + chunk);
    }
    if (inner == null) {
      throw new IllegalArgumentException("chunked attention needs an inner kernel");
    }
  }

  /** Chunks of the eager kernel. */
  public static ChunkedAttention eager(int chunk) {
    return new ChunkedAttention(chunk, AttentionKernel.EAGER);
  }

  /**
   * @param q (B, H, Lq, D)
   * @param k (B, H, Lk, D)
   * @param v (B, H, Lk, D)
   * @return (B, H, Lq, D) on q's manager
   */
  @Override
  public NDArray attend(NDArray q, NDArray k, NDArray v) {
    long lq = q.getShape().get(2);
    if (lq <= chunk) {
      return inner.attend(q, k, v);
    }
    try (NDManager scope = NDManager.subManagerOf(q)) {
      scope.tempAttachAll(q, k, v);
      NDList parts = new NDList();
      for (long start = 0; start < lq; start += chunk) {
        long end = Math.min(lq, start + chunk);
        // Each chunk's scores die with its own scope; only its (B, H, rows, D) output is kept.
        try (NDManager rows = scope.newSubManager()) {
          NDArray qc = q.get(":, :, {}:{}", start, end);
          qc.attach(rows);
          NDArray out = inner.attend(qc, k, v);
          out.attach(scope);
          parts.add(out);
        }
      }
      return scope.ret(ai.djl.ndarray.NDArrays.concat(parts, 2));
    }
  }
}
