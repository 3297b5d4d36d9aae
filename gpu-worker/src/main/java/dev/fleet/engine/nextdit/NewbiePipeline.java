package dev.fleet.engine.nextdit;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.image.PngEncoder;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.sampling.TorchNoise;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * NewBie-image end to end, every part resident: the Gemma 3 and Jina tokenizers and text encoders,
 * the Next-DiT sampled with guidance ({@link EulerSampler}), and FLUX's autoencoder with NewBie's
 * scale and shift; the image is {@code ((x + 1) / 2).clamp(0, 1) · 255} truncated to bytes, as
 * torchvision's {@code to_pil_image}.
 *
 * <p>Model directory layout (as NewBie's diffusers-style repository and the newbie-tiny fixture):
 * {@code transformer/} (NewBie's DiT key names and {@code config.json}), {@code text_encoder/} and
 * {@code tokenizer/} (Gemma 3), {@code clip_model/} and {@code clip_tokenizer/} (Jina CLIP v2),
 * {@code vae/config.json}; the autoencoder checkpoint is given on its own.
 */
public final class NewbiePipeline implements AutoCloseable {
  private final NewbieTokenizer gemmaTokenizer;
  private final NewbieTokenizer jinaTokenizer;
  private final Gemma3TextEncoder gemma;
  private final JinaTextTower jina;
  private final NextDitTransformer dit;
  private final AutoEncoder vae;
  private final ComputeTarget target;

  private NewbiePipeline(
      NewbieTokenizer gemmaTokenizer,
      NewbieTokenizer jinaTokenizer,
      Gemma3TextEncoder gemma,
      JinaTextTower jina,
      NextDitTransformer dit,
      AutoEncoder vae,
      ComputeTarget target) {
    this.gemmaTokenizer = gemmaTokenizer;
    this.jinaTokenizer = jinaTokenizer;
    this.gemma = gemma;
    this.jina = jina;
    this.dit = dit;
    this.vae = vae;
    this.target = target;
  }

  /**
   * Loads every part.
   *
   * @param dir the model directory (see the class comment)
   * @param vaeCheckpoint the autoencoder's safetensors (BFL or diffusers layout)
   */
  public static NewbiePipeline load(Path dir, Path vaeCheckpoint, ComputeTarget target) {
    AutoCloseable[] parts = new AutoCloseable[6];
    try {
      parts[0] = NewbieTokenizer.gemma(dir.resolve("tokenizer"));
      parts[1] = NewbieTokenizer.jina(dir.resolve("clip_tokenizer"));
      parts[2] = Gemma3TextEncoder.load(dir.resolve("text_encoder"), target);
      parts[3] = JinaTextTower.load(dir.resolve("clip_model"), target);
      Path transformer = dir.resolve("transformer");
      try (TensorStore store = TensorStore.open(CheckpointPaths.in(transformer))) {
        Weights weights = NextDitTransformer.weightsOf(store, target);
        NextDitParams params = NextDitParams.read(transformer, weights.store());
        parts[4] = NextDitTransformer.load(weights, params);
      }
      try (TensorStore store = TensorStore.open(vaeCheckpoint)) {
        AutoEncoderParams vaeParams =
            AutoEncoderParams.infer(store, dir.resolve("vae").resolve("config.json"));
        parts[5] = AutoEncoder.load(store, vaeParams, target);
      }
      return new NewbiePipeline(
          (NewbieTokenizer) parts[0],
          (NewbieTokenizer) parts[1],
          (Gemma3TextEncoder) parts[2],
          (JinaTextTower) parts[3],
          (NextDitTransformer) parts[4],
          (AutoEncoder) parts[5],
          target);
    } catch (RuntimeException e) {
      closeAll(parts);
      throw e;
    }
  }

  /**
   * Text features of a request: Gemma's {@code hidden_states[-2]} with its mask and Jina's pooled
   * vectors, each a [prompt, negative] batch, on {@code m}.
   *
   * @return {cap_feats (2, Lc, F), cap_mask (2, Lc), pooled (2, W)}
   */
  public NDArray[] encodeText(NewbieRequest request, NDManager m) {
    NDArray[] caption = NewbieText.caption(gemmaTokenizer, gemma, request, m);
    NDArray pooled = NewbieText.pooled(jinaTokenizer, jina, request, m);
    return new NDArray[] {caption[0], caption[1], pooled};
  }

  /** Generates the request's image. */
  public NewbieImage generate(NewbieRequest request) {
    return generate(request, null);
  }

  /**
   * Generates the request's image.
   *
   * @param listener sees every Euler step, or null
   */
  public NewbieImage generate(NewbieRequest request, EulerSampler.StepListener listener) {
    int f = vae.downscale();
    if (request.width() % (f * dit.params().patchSize()) != 0
        || request.height() % (f * dit.params().patchSize()) != 0) {
      throw new IllegalArgumentException(
          "width and height must be multiples of " + f * dit.params().patchSize());
    }
    int h = request.height() / f;
    int w = request.width() / f;
    int c = dit.params().inChannels();
    try (NDManager m = NDManager.newBaseManager(target.device())) {
      NDArray[] text = encodeText(request, m);
      float[] noise = new TorchNoise(request.seed()).randn(c * h * w);
      NDArray z = m.create(noise, new Shape(1, c, h, w));
      EulerSampler sampler =
          new EulerSampler(
              request.steps(),
              request.timeShift(),
              new GuidedVelocity(request.cfgScale(), request.cfgTrunc(), request.renormCfg()));
      NDArray latents = sampler.sample(dit, z, text[0], text[1], text[2], listener);
      NDArray decoded = vae.decode(latents).toType(DataType.FLOAT32, false);
      byte[] rgb = toRgb(decoded.toFloatArray(), request.width(), request.height());
      byte[] png = PngEncoder.encode(rgb, request.width(), request.height(), pngText(request));
      return new NewbieImage(request, request.width(), request.height(), rgb, png);
    }
  }

  /**
   * (1, 3, H, W) decoded pixels to HWC bytes as {@code (((x + 1) / 2).clamp(0, 1) · 255).byte()}.
   */
  static byte[] toRgb(float[] chw, int width, int height) {
    int plane = width * height;
    byte[] rgb = new byte[plane * 3];
    for (int ch = 0; ch < 3; ch++) {
      for (int i = 0; i < plane; i++) {
        float v = (chw[ch * plane + i] + 1f) / 2f;
        v = Math.min(1f, Math.max(0f, v));
        rgb[i * 3 + ch] = (byte) (int) (v * 255f);
      }
    }
    return rgb;
  }

  static Map<String, String> pngText(NewbieRequest r) {
    Map<String, String> text = new LinkedHashMap<>();
    text.put("prompt", r.prompt());
    text.put("negative_prompt", r.negativePrompt());
    text.put("seed", Long.toString(r.seed()));
    text.put("steps", Integer.toString(r.steps()));
    text.put("cfg_scale", Float.toString(r.cfgScale()));
    text.put("cfg_trunc", Float.toString(r.cfgTrunc()));
    text.put("renorm_cfg", Float.toString(r.renormCfg()));
    text.put("model", "newbie");
    text.put("Software", "fleet (NewBie-image in Java, DJL)");
    return text;
  }

  @Override
  public void close() {
    closeAll(gemmaTokenizer, jinaTokenizer, gemma, jina, dit, vae);
  }

  private static void closeAll(AutoCloseable... parts) {
    for (AutoCloseable p : parts) {
      if (p != null) {
        try {
          p.close();
        } catch (Exception e) {
          // closing frees native memory; nothing to recover
        }
      }
    }
  }
}
