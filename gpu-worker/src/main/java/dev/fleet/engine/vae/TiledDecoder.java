package dev.fleet.engine.vae;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.fleet.engine.nn.Activations;
import dev.fleet.engine.nn.Attention;
import dev.fleet.engine.nn.GroupNorm;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The decoder run tile by tile so that no full-resolution feature map is on the device at once,
 * with the same result as the untiled decoder up to rounding.
 *
 * <p>Three things make a tiled decode differ from an untiled one, and each is handled:
 *
 * <ul>
 *   <li>Convolutions near a tile's edge see zeros instead of the neighbours: each tile carries a
 *       margin as wide as the receptive field of what remains of the decoder, and only its core is
 *       kept (no blending). The margin shrinks level by level (13 latent pixels at the start for
 *       FLUX.1's autoencoder, 7 output pixels at full resolution).
 *   <li>GroupNorm's statistics depend on the whole feature map: the tiles run in lockstep, and
 *       before every GroupNorm the per-tile moments of the cores (which partition the map) are
 *       merged into the global mean and variance.
 *   <li>The mid block's attention mixes all positions: the input convolution and the mid block run
 *       on the whole latent, which is small (the latent resolution), with the attention's queries
 *       in chunks so that its (HW)^2 scores never exist whole.
 * </ul>
 *
 * Between GroupNorms the tiles' activations are parked in host memory, so the device holds one
 * tile's work at a time. Costs: every activation crosses host and device once per GroupNorm, and
 * the margins are computed twice.
 */
final class TiledDecoder {
  /** Query rows per chunk of the mid-block attention when the caller gives none. */
  static final int DEFAULT_ATTENTION_CHUNK = 4096;

  private final Decoder decoder;
  private final AutoEncoderParams params;
  private final Device device;
  private final NDManager parking;

  private TiledDecoder(
      Decoder decoder, AutoEncoderParams params, Device device, NDManager parking) {
    this.decoder = decoder;
    this.params = params;
    this.device = device;
    this.parking = parking;
  }

  /**
   * @param latent (B, z, h, w) already scaled and shifted, in the compute dtype on the device
   * @param tile core size in latent pixels
   * @param attentionChunk query rows per chunk of the mid-block attention (0: the default)
   * @return (B, out, h*f, w*f) in latent's dtype, on latent's manager
   */
  static NDArray decode(
      Decoder decoder, AutoEncoderParams params, NDArray latent, int tile, int attentionChunk) {
    if (tile < 1) {
      throw new IllegalArgumentException("decoder tile must be >= 1 latent pixel, got " + tile);
    }
    try (NDManager parking = NDManager.newBaseManager(Device.cpu())) {
      return new TiledDecoder(decoder, params, latent.getDevice(), parking)
          .run(latent, tile, attentionChunk > 0 ? attentionChunk : DEFAULT_ATTENTION_CHUNK);
    }
  }

  /**
   * Margins (in each level's pixels) that the tiles need when a level starts: index = level. A
   * level's resnet blocks need one pixel per 3x3 conv, the upsample's conv one pixel at the finer
   * resolution, the output conv one.
   */
  static int[] margins(AutoEncoderParams p) {
    int convs = 2 * (p.dims().numResBlocks() + 1);
    int[] r = new int[p.dims().levels()];
    r[0] = convs + 1;
    for (int level = 1; level < r.length; level++) {
      r[level] = convs + upsampleInputMargin(r[level - 1]);
    }
    return r;
  }

  /** Margin before a nearest 2x upsample + 3x3 conv that leaves {@code after} valid pixels. */
  private static int upsampleInputMargin(int after) {
    return (after + 1 + 1) / 2;
  }

  private NDArray run(NDArray latent, int tile, int chunk) {
    Shape s = latent.getShape();
    int b = (int) s.get(0);
    int height = (int) s.get(2);
    int width = (int) s.get(3);
    int[] margin = margins(params);
    int top = params.dims().levels() - 1;

    List<Tile> tiles = new ArrayList<>();
    for (int y = 0; y < height; y += tile) {
      for (int x = 0; x < width; x += tile) {
        tiles.add(
            new Tile(y, Math.min(height, y + tile), x, Math.min(width, x + tile))
                .withMargin(margin[top], height, width));
      }
    }

    Field field;
    try (NDManager scope = NDManager.subManagerOf(latent)) {
      scope.tempAttachAll(latent);
      NDArray h = middle(latent, chunk); // (B, C_top, h, w), the whole latent
      Tile whole = new Tile(0, height, 0, width);
      List<NDArray> parts = new ArrayList<>(tiles.size());
      Moments moments = new Moments(b, AutoEncoderParams.NORM_GROUPS);
      for (Tile t : tiles) {
        NDArray part = whole.crop(h, t);
        moments.add(part, t);
        parts.add(park(part));
      }
      field = new Field(parts, moments);
    }

    for (int level = top; level >= 0; level--) {
      Decoder.Level l = decoder.up().get(level);
      for (ResnetBlock block : l.blocks()) {
        field = resnet(block, tiles, field);
      }
      if (l.upsample() != null) {
        height *= 2;
        width *= 2;
        field = upsample(l.upsample(), tiles, field, margin[level - 1], height, width);
        tiles = scaled(tiles, margin[level - 1], height, width);
      }
    }
    return output(tiles, field, latent, b, height, width);
  }

  /** conv_in and the mid block (resnet, attention, resnet) on the whole latent. */
  private NDArray middle(NDArray latent, int chunk) {
    NDArray h = decoder.convIn().forward(latent);
    h = replace(h, decoder.mid1().forward(h));
    h = replace(h, attend(decoder.midAttn(), h, chunk));
    return replace(h, decoder.mid2().forward(h));
  }

  /** {@link AttnBlock#forward} with the queries in chunks. */
  private static NDArray attend(AttnBlock a, NDArray x, int chunk) {
    try (NDManager scope = NDManager.subManagerOf(x)) {
      scope.tempAttachAll(x);
      Shape shape = x.getShape();
      long c = shape.get(1);
      NDArray h = a.norm().forward(x);
      NDArray query = tokens(a.q().forward(h)).mul((float) (1.0 / Math.sqrt(c))); // (B, 1, HW, C)
      NDArray key = tokens(a.k().forward(h)); // (B, 1, HW, C)
      NDArray value = tokens(a.v().forward(h)); // (B, 1, HW, C)
      long positions = query.getShape().get(2);
      List<NDArray> rows = new ArrayList<>();
      for (long start = 0; start < positions; start += chunk) {
        long end = Math.min(positions, start + chunk);
        try (NDManager part = scope.newSubManager()) {
          NDArray q = query.get(":, :, {}:{}", start, end);
          q.attach(part);
          NDArray out = Attention.sdpa(q, key, value, null, 1f); // (B, 1, rows, C)
          out.attach(scope);
          rows.add(out);
        }
      }
      NDArray attended = ai.djl.ndarray.NDArrays.concat(new ai.djl.ndarray.NDList(rows), 2);
      NDArray map = attended.squeeze(1).transpose(0, 2, 1).reshape(shape); // (B, C, H, W)
      return scope.ret(x.add(a.projOut().forward(map)));
    }
  }

  /** (B, C, H, W) -> (B, 1, H*W, C) */
  private static NDArray tokens(NDArray map) {
    Shape s = map.getShape();
    return map.reshape(s.get(0), s.get(1), -1).transpose(0, 2, 1).expandDims(1);
  }

  /** A resnet block over all tiles: a GroupNorm barrier before each of its two convolutions. */
  private Field resnet(ResnetBlock block, List<Tile> tiles, Field in) {
    Moments stats = new Moments(in.moments.batch, AutoEncoderParams.NORM_GROUPS);
    List<NDArray> hidden = new ArrayList<>(tiles.size());
    float[][] norm1 = in.moments.meanAndRstd(block.norm1().eps());
    for (int i = 0; i < tiles.size(); i++) {
      Tile t = tiles.get(i);
      hidden.add(
          onDevice(
              in.parts.get(i),
              x -> {
                NDArray h = block.conv1().forward(silu(normalize(block.norm1(), x, norm1)));
                stats.add(h, t);
                return h;
              }));
    }
    Moments outStats = new Moments(in.moments.batch, AutoEncoderParams.NORM_GROUPS);
    float[][] norm2 = stats.meanAndRstd(block.norm2().eps());
    List<NDArray> out = new ArrayList<>(tiles.size());
    for (int i = 0; i < tiles.size(); i++) {
      Tile t = tiles.get(i);
      NDArray x = in.parts.get(i);
      NDArray h = hidden.get(i);
      out.add(
          onDevice(
              x,
              h,
              (xd, hd) -> {
                NDArray update = block.conv2().forward(silu(normalize(block.norm2(), hd, norm2)));
                NDArray skip = block.ninShortcut() == null ? xd : block.ninShortcut().forward(xd);
                NDArray sum = skip.add(update);
                outStats.add(sum, t);
                return sum;
              }));
      x.close();
      h.close();
    }
    return new Field(out, outStats);
  }

  /** Nearest 2x + conv per tile, keeping the margin the next level needs. */
  private Field upsample(
      Upsample up, List<Tile> tiles, Field in, int nextMargin, int height, int width) {
    Moments stats = new Moments(in.moments.batch, AutoEncoderParams.NORM_GROUPS);
    int before = upsampleInputMargin(nextMargin);
    List<NDArray> out = new ArrayList<>(tiles.size());
    for (int i = 0; i < tiles.size(); i++) {
      Tile t = tiles.get(i);
      Tile source = t.withMargin(before, height / 2, width / 2);
      Tile target = t.doubled().withMargin(nextMargin, height, width);
      NDArray x = in.parts.get(i);
      out.add(
          onDevice(
              x,
              xd -> {
                NDArray doubled = up.forward(t.crop(xd, source)); // source's rect, doubled
                NDArray kept = source.doubled().crop(doubled, target);
                stats.add(kept, target);
                return kept;
              }));
      x.close();
    }
    return new Field(out, stats);
  }

  private static List<Tile> scaled(List<Tile> tiles, int margin, int height, int width) {
    List<Tile> out = new ArrayList<>(tiles.size());
    for (Tile t : tiles) {
      out.add(t.doubled().withMargin(margin, height, width));
    }
    return out;
  }

  /** norm_out, swish, conv_out per tile; each tile's core goes into the image. */
  private NDArray output(
      List<Tile> tiles, Field in, NDArray latent, int batch, int height, int width) {
    float[][] norm = in.moments.meanAndRstd(decoder.normOut().eps());
    int channels = params.dims().outChannels();
    float[] image = new float[batch * channels * height * width];
    for (int i = 0; i < tiles.size(); i++) {
      Tile t = tiles.get(i);
      NDArray x = in.parts.get(i);
      try (NDManager scope = NDManager.newBaseManager(device)) {
        NDArray xd = unpark(x, scope);
        NDArray y = decoder.convOut().forward(silu(normalize(decoder.normOut(), xd, norm)));
        NDArray core = t.core(y).toType(DataType.FLOAT32, false).duplicate();
        blit(core.toFloatArray(), image, t, batch, channels, height, width);
      }
      x.close();
    }
    return latent
        .getManager()
        .create(image, new Shape(batch, channels, height, width))
        .toType(latent.getDataType(), false);
  }

  private static void blit(
      float[] core, float[] image, Tile t, int batch, int channels, int height, int width) {
    int rows = t.cy1 - t.cy0;
    int cols = t.cx1 - t.cx0;
    int i = 0;
    for (int b = 0; b < batch; b++) {
      for (int c = 0; c < channels; c++) {
        for (int y = 0; y < rows; y++) {
          int base = ((b * channels + c) * height + t.cy0 + y) * width + t.cx0;
          System.arraycopy(core, i, image, base, cols);
          i += cols;
        }
      }
    }
  }

  /**
   * GroupNorm with given statistics: {@code (x - mean) * rstd} per (sample, group) in float32, then
   * the affine pair, as {@link GroupNorm#forward} computes it.
   *
   * @param stats mean and rstd, each (B * G) values
   */
  private static NDArray normalize(GroupNorm gn, NDArray x, float[][] stats) {
    Shape shape = x.getShape();
    long b = shape.get(0);
    int g = gn.groups();
    NDManager m = x.getManager();
    NDArray mean = m.create(stats[0], new Shape(b, g, 1)).toDevice(x.getDevice(), false);
    NDArray rstd = m.create(stats[1], new Shape(b, g, 1)).toDevice(x.getDevice(), false);
    NDArray normed =
        x.toType(DataType.FLOAT32, false).reshape(b, g, -1).sub(mean).mul(rstd).reshape(shape);
    return normed.toType(x.getDataType(), false).mul(gn.gamma()).add(gn.beta());
  }

  private static NDArray silu(NDArray x) {
    return Activations.silu(x);
  }

  private static NDArray replace(NDArray previous, NDArray next) {
    previous.close();
    return next;
  }

  /** Runs {@code f} on a parked array brought to the device; parks the result. */
  private NDArray onDevice(NDArray parked, Function<NDArray, NDArray> f) {
    try (NDManager scope = NDManager.newBaseManager(device)) {
      return park(f.apply(unpark(parked, scope)));
    }
  }

  private NDArray onDevice(NDArray a, NDArray b, java.util.function.BinaryOperator<NDArray> f) {
    try (NDManager scope = NDManager.newBaseManager(device)) {
      return park(f.apply(unpark(a, scope), unpark(b, scope)));
    }
  }

  /** A compact host copy of {@code x} owned by the parking manager. */
  private NDArray park(NDArray x) {
    NDArray p =
        x.getDevice().equals(parking.getDevice())
            ? x.duplicate()
            : x.toDevice(parking.getDevice(), false);
    p.attach(parking);
    return p;
  }

  /** {@code parked} on the device, owned by {@code scope}; the parked array stays parked. */
  private NDArray unpark(NDArray parked, NDManager scope) {
    NDArray d =
        parked.getDevice().equals(device) ? parked.duplicate() : parked.toDevice(device, false);
    d.attach(scope);
    return d;
  }

  /** The tiles' activations (parked) and the moments of their cores. */
  private record Field(List<NDArray> parts, Moments moments) {}

  /**
   * A tile at the current resolution: its core [cy0, cy1) x [cx0, cx1), which the tiles partition,
   * and its padded rectangle [py0, py1) x [px0, px1), which its arrays cover.
   */
  private record Tile(int cy0, int cy1, int cx0, int cx1, int py0, int py1, int px0, int px1) {
    Tile(int cy0, int cy1, int cx0, int cx1) {
      this(cy0, cy1, cx0, cx1, cy0, cy1, cx0, cx1);
    }

    Tile withMargin(int margin, int height, int width) {
      return new Tile(
          cy0,
          cy1,
          cx0,
          cx1,
          Math.max(0, cy0 - margin),
          Math.min(height, cy1 + margin),
          Math.max(0, cx0 - margin),
          Math.min(width, cx1 + margin));
    }

    Tile doubled() {
      return new Tile(2 * cy0, 2 * cy1, 2 * cx0, 2 * cx1, 2 * py0, 2 * py1, 2 * px0, 2 * px1);
    }

    /**
     * The part of {@code x} (which covers this tile's padded rectangle) that covers {@code to}'s
     * padded rectangle, a compact copy.
     */
    NDArray crop(NDArray x, Tile to) {
      if (to.py0 < py0 || to.py1 > py1 || to.px0 < px0 || to.px1 > px1) {
        throw new IllegalStateException("tile " + to + " is not inside " + this);
      }
      return x.get(":, :, {}:{}, {}:{}", to.py0 - py0, to.py1 - py0, to.px0 - px0, to.px1 - px0)
          .duplicate();
    }

    /** The core of {@code x}, which covers the padded rectangle. */
    NDArray core(NDArray x) {
      return x.get(":, :, {}:{}, {}:{}", cy0 - py0, cy1 - py0, cx0 - px0, cx1 - px0);
    }
  }

  /**
   * Per (sample, group) moments of the tile cores, merged with Chan's parallel formula in double,
   * so that the merged variance is the whole map's (population) variance.
   */
  private static final class Moments {
    final int batch;
    final int groups;
    final double[] count;
    final double[] mean;
    final double[] m2;

    Moments(int batch, int groups) {
      this.batch = batch;
      this.groups = groups;
      this.count = new double[batch * groups];
      this.mean = new double[batch * groups];
      this.m2 = new double[batch * groups];
    }

    /** Adds the core of {@code x} (which covers {@code t}'s padded rectangle). */
    void add(NDArray x, Tile t) {
      try (NDManager scope = x.getManager().newSubManager()) {
        NDArray core = t.core(x);
        core.attach(scope);
        NDArray grouped = core.toType(DataType.FLOAT32, false).reshape(batch, groups, -1);
        long n = grouped.getShape().get(2);
        NDArray mu = grouped.mean(new int[] {2}, true); // (B, G, 1)
        NDArray dev = grouped.sub(mu);
        float[] tileMean = mu.toFloatArray();
        float[] tileM2 = dev.mul(dev).sum(new int[] {2}).toFloatArray();
        for (int i = 0; i < count.length; i++) {
          double total = count[i] + n;
          double delta = tileMean[i] - mean[i];
          mean[i] += delta * n / total;
          m2[i] += tileM2[i] + delta * delta * count[i] * n / total;
          count[i] = total;
        }
      }
    }

    /** {mean, 1/sqrt(var + eps)} per (sample, group), as float32. */
    float[][] meanAndRstd(float eps) {
      float[] mu = new float[count.length];
      float[] rstd = new float[count.length];
      for (int i = 0; i < count.length; i++) {
        mu[i] = (float) mean[i];
        rstd[i] = (float) (1.0 / Math.sqrt(m2[i] / count[i] + eps));
      }
      return new float[][] {mu, rstd};
    }
  }
}
