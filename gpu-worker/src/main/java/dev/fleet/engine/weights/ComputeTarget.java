package dev.fleet.engine.weights;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;

/**
 * Where and in which precision the engine computes: float32 on CPU, float16 on GPU (DJL's PyTorch
 * engine cannot hold bfloat16, see the architecture doc).
 */
public record ComputeTarget(Device device, DataType dtype) {

  public ComputeTarget {
    if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
      throw new IllegalArgumentException("compute dtype must be float32 or float16, got " + dtype);
    }
  }

  public static ComputeTarget cpu() {
    return new ComputeTarget(Device.cpu(), DataType.FLOAT32);
  }

  public boolean isHalf() {
    return dtype == DataType.FLOAT16;
  }
}
