package dev.fleet.engine.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;

/**
 * T5's learned relative position bias (bidirectional buckets: exact for small distances, log-spaced
 * up to {@code maxDistance}), added to the attention scores of every encoder layer. The bucket
 * arithmetic runs as tensor ops in float32 so that it rounds as transformers' does.
 *
 * @param table (numBuckets, H), layer 0's {@code relative_attention_bias.weight}
 */
record T5RelativePositionBias(NDArray table, int numBuckets, int maxDistance) {

  /**
   * @param scope where the bias is created (the caller's forward scope)
   * @return (1, H, L, L) in the table's dtype
   */
  NDArray forward(NDManager scope, long length) {
    int l = Math.toIntExact(length);
    NDArray positions = scope.arange(0f, l, 1f, DataType.INT64, table.getDevice()); // (L)
    NDArray context = positions.reshape(l, 1);
    NDArray memory = positions.reshape(1, l);
    NDArray buckets = bucket(memory.sub(context)); // (L, L)
    NDArray values = Embedding.embedding(buckets, table, SparseFormat.DENSE).singletonOrThrow();
    return values.transpose(2, 0, 1).expandDims(0); // (1, H, L, L)
  }

  /** transformers' {@code _relative_position_bucket} with {@code bidirectional=True}. */
  NDArray bucket(NDArray relative) {
    int half = numBuckets / 2;
    NDArray forward = relative.gt(0).toType(DataType.INT64, false).mul(half);
    NDArray distance = relative.abs();
    int maxExact = half / 2;
    NDArray isSmall = distance.lt(maxExact);
    NDArray large =
        distance
            .toType(DataType.FLOAT32, false)
            .div((float) maxExact)
            .log()
            .div((float) Math.log((double) maxDistance / maxExact))
            .mul((float) (half - maxExact))
            .toType(DataType.INT64, false)
            .add(maxExact)
            .minimum(half - 1);
    return forward.add(NDArrays.where(isSmall, distance, large));
  }
}
