package dev.fleet.engine.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.weights.Weights;

/**
 * Layer normalisation over the last dimension.
 *
 * @param gamma (C) scale, or null for {@code elementwise_affine=False}
 * @param beta (C) shift, or null
 */
public record LayerNorm(NDArray gamma, NDArray beta, float eps) {

  /** Affine-free normalisation (the DiT's pre-modulation norms). */
  public static LayerNorm plain(float eps) {
    return new LayerNorm(null, null, eps);
  }

  /** Loads {@code name.weight} and {@code name.bias}. */
  public static LayerNorm load(Weights w, String name, float eps, NDManager manager) {
    NDArray gamma = w.load(name + ".weight", manager);
    NDArray beta = w.has(name + ".bias") ? w.load(name + ".bias", manager) : null;
    return new LayerNorm(gamma, beta, eps);
  }

  /** (..., C) -> (..., C) */
  public NDArray forward(NDArray x) {
    long c = x.getShape().get(x.getShape().dimension() - 1);
    Shape shape = new Shape(c);
    // DJL's binding dereferences weight and bias, which libtorch would take as absent: pass the
    // identity affine (on x's manager, so the call allocates nothing on the owner of the norm).
    NDArray g =
        gamma != null
            ? gamma
            : x.getManager().ones(shape, x.getDataType()).toDevice(x.getDevice(), false);
    NDArray b =
        beta != null
            ? beta
            : x.getManager().zeros(shape, x.getDataType()).toDevice(x.getDevice(), false);
    return ai.djl.nn.norm.LayerNorm.layerNorm(x, shape, g, b, eps).singletonOrThrow();
  }
}
