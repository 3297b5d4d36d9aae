package dev.fleet.engine.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.flux.DiffusersFluxView;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.flux.FluxTransformer;
import dev.fleet.engine.image.PngEncoder;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.sampling.LatentPacking;
import dev.fleet.engine.sampling.Schedule;
import dev.fleet.engine.sampling.TorchNoise;
import dev.fleet.engine.text.TextEmbedder;
import dev.fleet.engine.text.TextEmbeddings;
import dev.fleet.engine.vae.AutoEncoder;
import dev.fleet.engine.vae.AutoEncoderParams;
import dev.fleet.engine.vae.VaeLoader;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.model.GenerationSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * FLUX text-to-image with BFL's sampling semantics: T5 + CLIP conditioning, seeded noise, 2x2
 * packing, the shifted schedule, Euler steps with distilled guidance, unpacking and decoding. One
 * loaded pipeline serves many jobs; each job's arrays live in a manager of its own that is closed
 * when the job ends, so nothing of a job outlives it.
 */
public final class FluxPipeline implements AutoCloseable {
  /** Latent channels of the FLUX.1 autoencoder; the noise has this many. */
  static final int LATENT_CHANNELS = 16;

  private final ModelDirectory model;
  private final ComputeTarget target;
  private final TensorStore ditStore;
  private final FluxTransformer dit;
  private final TextEmbedder text;
  private final AutoEncoder vae;

  /** Parent of every job's manager: what is left under it after a job is a leak. */
  private final NDManager jobs;

  private FluxPipeline(
      ModelDirectory model,
      ComputeTarget target,
      TensorStore ditStore,
      FluxTransformer dit,
      TextEmbedder text,
      AutoEncoder vae) {
    this.model = model;
    this.target = target;
    this.ditStore = ditStore;
    this.dit = dit;
    this.text = text;
    this.vae = vae;
    this.jobs = NDManager.newBaseManager(target.device());
    // Parameters are loaded; from here on an allocation on a model's manager is a bug.
    dit.manager().cap();
    vae.manager().cap();
  }

  /** Loads every component of a model directory onto the target. */
  public static FluxPipeline load(ModelDirectory model, ComputeTarget target) {
    TensorStore store = null;
    FluxTransformer dit = null;
    TextEmbedder text = null;
    try {
      store = openTransformer(model);
      FluxParams params =
          FluxParams.infer(store, model.transformer().resolveSibling("config.json"));
      dit = FluxTransformer.load(new Weights(store, target), params);
      int t5Length =
          params.guidanceEmbed() ? TextEmbedder.DEV_T5_LENGTH : TextEmbedder.SCHNELL_T5_LENGTH;
      text = TextEmbedder.load(model.root(), t5Length, target);
      AutoEncoder vae = VaeLoader.load(model.root(), target);
      checkCompatible(params, vae);
      return new FluxPipeline(model, target, store, dit, text, vae);
    } catch (RuntimeException e) {
      closeQuietly(text, dit, store);
      throw e;
    }
  }

  /**
   * The sampler packs 16 latent channels of an 8x autoencoder into 64 features per token, as FLUX.1
   * does: a DiT or autoencoder of another geometry cannot be paired with it.
   */
  static void checkCompatible(FluxParams dit, AutoEncoder vae) {
    try {
      checkCompatible(dit, vae.params());
    } catch (IllegalArgumentException e) {
      vae.close();
      throw e;
    }
  }

  /** As {@link #checkCompatible(FluxParams, AutoEncoder)}, for an autoencoder not loaded yet. */
  static void checkCompatible(FluxParams dit, AutoEncoderParams ae) {
    if (ae.zChannels() != LATENT_CHANNELS
        || ae.downscale() != 8
        || dit.inChannels() != LATENT_CHANNELS * 4) {
      throw new IllegalArgumentException(
          "model geometry is not FLUX.1's: autoencoder z_channels="
              + ae.zChannels()
              + " (need "
              + LATENT_CHANNELS
              + "), downscale="
              + ae.downscale()
              + " (need 8), DiT in_channels="
              + dit.inChannels()
              + " (need "
              + LATENT_CHANNELS * 4
              + ")");
    }
  }

  /** The DiT checkpoint in the BFL key layout, whatever layout it was saved in. */
  public static TensorStore openTransformer(ModelDirectory model) {
    return DiffusersFluxView.inBflLayout(TensorStore.open(model.transformer()));
  }

  public ModelDirectory model() {
    return model;
  }

  public ComputeTarget target() {
    return target;
  }

  public FluxParams params() {
    return dit.params();
  }

  /** Generates with the seed's noise. */
  public GeneratedImage generate(GenerationSpec spec, GenerationListener listener) {
    return generate(spec, null, listener);
  }

  /**
   * @param noise the initial latent noise (1, 16, 2*ceil(h/16), 2*ceil(w/16)) flattened, or null to
   *     draw it from the seed exactly as {@code torch.randn} with a CPU generator would
   */
  public GeneratedImage generate(GenerationSpec spec, float[] noise, GenerationListener listener) {
    int h = spec.height() / 16; // packed rows
    int w = spec.width() / 16; // packed columns
    Shape latentShape = new Shape(1, LATENT_CHANNELS, 2L * h, 2L * w);
    float[] initial =
        noise != null ? noise : new TorchNoise(spec.seed()).randn((int) latentShape.size());
    if (initial.length != latentShape.size()) {
      throw new IllegalArgumentException(
          "noise has "
              + initial.length
              + " values, "
              + latentShape
              + " needs "
              + latentShape.size());
    }
    float[] timesteps = Schedule.timesteps(spec.steps(), h * w, dit.params().guidanceEmbed());
    try (NDManager job = jobs.newSubManager()) {
      NDArray latent = job.create(initial, latentShape); // (1, 16, 2h, 2w) float32
      trace(listener, "pipe.noise", latent);
      trace(listener, "pipe.timesteps", job.create(timesteps));
      NDArray img = denoise(job, spec, LatentPacking.pack(latent), h, w, timesteps, listener);
      NDArray pixels = decode(img, h, w); // (1, 3, H, W) float32 in [-1, 1]
      trace(listener, "pipe.image", pixels);
      byte[] rgb = toRgb(pixels.toFloatArray(), spec.width(), spec.height());
      byte[] png = PngEncoder.encode(rgb, spec.width(), spec.height(), pngText(spec));
      return new GeneratedImage(spec, spec.width(), spec.height(), rgb, png);
    }
  }

  /** Euler steps from t=1 to t=0; latents stay float32 whatever the compute dtype. */
  private NDArray denoise(
      NDManager job,
      GenerationSpec spec,
      NDArray img,
      int h,
      int w,
      float[] ts,
      GenerationListener listener) {
    // Ids, timesteps and guidance stay float32: the DiT embeds positions and times in float32
    // whatever it computes in (1000 * t in fp16 would lose the time's low bits).
    DataType dt = DataType.FLOAT32;
    try (TextEmbeddings cond = text.embed(spec.prompt(), job)) {
      NDArray imgIds = LatentPacking.imageIds(job, 1, h, w, dt);
      NDArray txtIds = LatentPacking.textIds(job, 1, cond.t5().getShape().get(1), dt);
      NDArray guidance =
          dit.params().guidanceEmbed() ? job.full(new Shape(1), (float) spec.guidance(), dt) : null;
      int steps = ts.length - 1;
      for (int k = 0; k < steps; k++) {
        if (listener.cancelled()) {
          throw new GenerationCancelledException(k);
        }
        NDArray next;
        try (NDManager scope = NDManager.subManagerOf(img)) {
          scope.tempAttachAll(img, imgIds, txtIds, cond.t5(), cond.clipPooled());
          if (guidance != null) {
            scope.tempAttachAll(guidance);
          }
          NDArray t = scope.full(new Shape(1), ts[k], dt);
          NDArray pred = // (1, L, 64) float32, img's dtype
              dit.forward(img, imgIds, cond.t5(), txtIds, cond.clipPooled(), t, guidance);
          // img + (t_prev - t_curr) * pred, the step size taken in double as Python does
          float step = (float) ((double) ts[k + 1] - (double) ts[k]);
          next = scope.ret(img.add(pred.mul(step)));
        }
        img.close();
        img = next;
        trace(listener, "pipe.latents.step" + k, img);
        listener.onStep(k + 1, steps);
      }
      return img;
    }
  }

  private NDArray decode(NDArray img, int h, int w) {
    try (NDManager scope = NDManager.subManagerOf(img)) {
      scope.tempAttachAll(img);
      NDArray z = LatentPacking.unpack(img, h, w);
      NDArray x = vae.decode(z).toType(DataType.FLOAT32, false).clip(-1f, 1f);
      return scope.ret(x);
    }
  }

  /** (1, 3, H, W) in [-1, 1] to HWC bytes as {@code (127.5 * (x + 1)).byte()}: truncation. */
  static byte[] toRgb(float[] chw, int width, int height) {
    int plane = width * height;
    byte[] rgb = new byte[plane * 3];
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < plane; i++) {
        rgb[i * 3 + c] = (byte) (int) (127.5f * (chw[c * plane + i] + 1f));
      }
    }
    return rgb;
  }

  /** The text chunks of the PNG: A1111-style {@code parameters} plus one key per setting. */
  static Map<String, String> pngText(GenerationSpec spec) {
    Map<String, String> text = new LinkedHashMap<>();
    text.put("parameters", spec.parametersText());
    text.put("prompt", spec.prompt());
    text.put("seed", Long.toString(spec.seed()));
    text.put("steps", Integer.toString(spec.steps()));
    text.put("width", Integer.toString(spec.width()));
    text.put("height", Integer.toString(spec.height()));
    text.put("guidance", Double.toString(spec.guidance()));
    text.put("model", spec.model());
    text.put("Software", "fleet (FLUX in Java, DJL)");
    return text;
  }

  /** Arrays still alive from jobs: zero between jobs unless something leaks. */
  public int liveJobArrays() {
    return jobs.getManagedArrays().size();
  }

  private static void trace(GenerationListener listener, String name, NDArray value) {
    if (listener.wantsTensors()) {
      listener.onTensor(name, value);
    }
  }

  @Override
  public void close() {
    closeQuietly(jobs, vae, text, dit, ditStore);
  }

  private static void closeQuietly(AutoCloseable... resources) {
    for (AutoCloseable r : resources) {
      if (r != null) {
        try {
          r.close();
        } catch (Exception ignored) {
          // closing the rest matters more than one failure to close
        }
      }
    }
  }
}
