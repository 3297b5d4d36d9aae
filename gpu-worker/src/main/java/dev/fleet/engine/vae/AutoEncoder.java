package dev.fleet.engine.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;

/**
 * The FLUX autoencoder (BFL's {@code AutoEncoder}): images to scaled latents and back. It owns the
 * NDManager that holds its parameters; inference creates nothing there.
 *
 * <p>{@link #decode} is a pure function of the latent it is given and works on any latent size, so
 * a tiled decode can call it once per latent tile (the mid-block attention then sees one tile).
 */
public final class AutoEncoder implements AutoCloseable {
  private final AutoEncoderParams params;
  private final ComputeTarget target;
  private final NDManager manager;
  private final Encoder encoder;
  private final Decoder decoder;

  private AutoEncoder(
      AutoEncoderParams params,
      ComputeTarget target,
      NDManager manager,
      Encoder encoder,
      Decoder decoder) {
    this.params = params;
    this.target = target;
    this.manager = manager;
    this.encoder = encoder;
    this.decoder = decoder;
  }

  /**
   * Loads encoder and decoder onto the target device in the target dtype. Every tensor is checked
   * against the shape {@code params} implies; a missing or misshapen one fails naming its key. The
   * store may be closed afterwards.
   *
   * @param store the checkpoint in the BFL ({@code ae.safetensors}) or diffusers layout
   */
  public static AutoEncoder load(
      TensorStore store, AutoEncoderParams params, ComputeTarget target) {
    Weights w = new Weights(DiffusersVaeStore.asBflLayout(store), target);
    NDManager manager = NDManager.newBaseManager(target.device());
    try {
      Encoder encoder = Encoder.load(w.scoped("encoder"), params, manager);
      Decoder decoder = Decoder.load(w.scoped("decoder"), params, manager);
      return new AutoEncoder(params, target, manager, encoder, decoder);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
  }

  /**
   * BFL's {@code decode}: {@code decoder(z / scale_factor + shift_factor)}.
   *
   * @param z (B, z_channels, h, w) latent in any float dtype on any device
   * @return (B, out_ch, h*f, w*f) image, about [-1, 1], in the compute dtype on the compute device
   *     (f = {@link #downscale()})
   */
  public NDArray decode(NDArray z) {
    checkInput("decode", z, params.dims().zChannels(), "z_channels");
    try (NDManager scope = NDManager.subManagerOf(z)) {
      scope.tempAttachAll(z);
      NDArray latent =
          toTarget(z).div(params.scaleFactor()).add(params.shiftFactor()); // (B, z, h, w)
      return scope.ret(decoder.forward(latent));
    }
  }

  /**
   * {@link #decode} in tiles of {@code tile} x {@code tile} latent pixels, so that the device holds
   * one tile's feature maps at a time (the whole-latent mid block aside): the same result up to
   * rounding, see {@link TiledDecoder} for how.
   *
   * @param z (B, z_channels, h, w) latent in any float dtype on any device
   * @param tile core size of a tile in latent pixels (>= 1)
   * @param attentionChunk query rows per chunk of the mid-block attention, 0 for the default
   * @return as {@link #decode}
   */
  public NDArray decodeTiled(NDArray z, int tile, int attentionChunk) {
    checkInput("decode", z, params.dims().zChannels(), "z_channels");
    try (NDManager scope = NDManager.subManagerOf(z)) {
      scope.tempAttachAll(z);
      NDArray latent =
          toTarget(z).div(params.scaleFactor()).add(params.shiftFactor()); // (B, z, h, w)
      return scope.ret(TiledDecoder.decode(decoder, params, latent, tile, attentionChunk));
    }
  }

  /**
   * BFL's {@code encode} with {@code sample=False}: {@code scale_factor * (mean - shift_factor)} of
   * the encoder's latent Gaussian.
   *
   * @param x (B, in_channels, H, W) image in [-1, 1], any float dtype, any device
   * @return (B, z_channels, H', W') latent (H' = H/f for H divisible by f), in the compute dtype on
   *     the compute device
   */
  public NDArray encode(NDArray x) {
    checkInput("encode", x, params.dims().inChannels(), "in_channels");
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      NDArray mean = DiagonalGaussian.mean(encoder.forward(toTarget(x))); // (B, z, H', W')
      return scope.ret(mean.sub(params.shiftFactor()).mul(params.scaleFactor()));
    }
  }

  private NDArray toTarget(NDArray x) {
    return x.toDevice(target.device(), false).toType(target.dtype(), false);
  }

  private static void checkInput(String op, NDArray x, int channels, String what) {
    Shape s = x.getShape();
    if (s.dimension() != 4 || s.get(1) != channels) {
      throw new IllegalArgumentException(
          op
              + " expects (B, "
              + channels
              + ", H, W) with "
              + what
              + " = "
              + channels
              + ", got "
              + s);
    }
  }

  public AutoEncoderParams params() {
    return params;
  }

  public ComputeTarget target() {
    return target;
  }

  /** Pixels per latent cell along each axis (8 for FLUX.1). */
  public int downscale() {
    return params.dims().downscale();
  }

  /** The manager holding the parameters (tests {@code cap()} it to catch stray allocations). */
  public NDManager manager() {
    return manager;
  }

  @Override
  public void close() {
    manager.close();
  }
}
