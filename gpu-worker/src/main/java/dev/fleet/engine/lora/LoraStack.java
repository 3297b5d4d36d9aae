package dev.fleet.engine.lora;

import java.util.List;

/**
 * The LoRAs of one job, applied together (their updates add up); those at strength 0 are left out,
 * so a stack of only those is exactly no LoRA.
 */
public record LoraStack(List<AppliedLora> loras) {
  public static final LoraStack NONE = new LoraStack(List.of());

  public LoraStack {
    loras = loras.stream().filter(l -> l.strength() != 0).toList();
  }

  public static LoraStack of(AppliedLora... loras) {
    return new LoraStack(List.of(loras));
  }

  public boolean isEmpty() {
    return loras.isEmpty();
  }

  /** Host bytes of the adapters' factors. */
  public long hostBytes() {
    return loras.stream().mapToLong(l -> l.adapter().hostBytes()).sum();
  }

  /**
   * Device bytes of the stack's side paths in a dtype of {@code dtypeBytes}: per adapted layer a
   * (rank, in) and an (out, rank) matrix, the ranks of all adapters of the layer added.
   */
  public long deviceBytes(DitLinears linears, int dtypeBytes) {
    long n = 0;
    for (AppliedLora l : loras) {
      for (LoraPatch p : l.adapter().patches()) {
        int[] shape = linears.shape(p.module());
        if (shape != null) {
          n += (long) p.rank() * (shape[0] + shape[1]);
        }
      }
    }
    return n * dtypeBytes;
  }

  /** The largest total rank over the adapted layers (the side path's extra activation width). */
  public long widestRank() {
    java.util.Map<String, Long> ranks = new java.util.HashMap<>();
    for (AppliedLora l : loras) {
      for (LoraPatch p : l.adapter().patches()) {
        if (p.isClip()) {
          continue;
        }
        ranks.merge(p.module(), (long) p.rank(), Long::sum);
      }
    }
    return ranks.values().stream().mapToLong(Long::longValue).max().orElse(0);
  }

  /** Device bytes of the CLIP side paths' factors in a dtype of {@code dtypeBytes}. */
  public long clipDeviceBytes(int dtypeBytes) {
    long n = 0;
    for (AppliedLora l : loras) {
      for (LoraPatch p : l.adapter().patches()) {
        if (p.isClip()) {
          n += (long) p.rank() * (p.in() + p.out());
        }
      }
    }
    return n * dtypeBytes;
  }

  /** True when some LoRA of the stack adapts the CLIP text encoder. */
  public boolean adaptsClip() {
    return loras.stream().anyMatch(l -> l.adapter().patches().stream().anyMatch(LoraPatch::isClip));
  }

  /**
   * What the CLIP text encoder's output depends on in this stack: for each LoRA with CLIP updates
   * its name, strength and a fingerprint of those updates' values; "" when none (the prompt
   * embedding cache keys on it, so a conditioning is reused only under the same text-encoder
   * LoRAs).
   */
  public String clipIdentity() {
    StringBuilder s = new StringBuilder();
    for (AppliedLora l : loras) {
      long h = 1125899906842597L;
      boolean any = false;
      for (LoraPatch p : l.adapter().patches()) {
        if (!p.isClip()) {
          continue;
        }
        any = true;
        h = 31 * h + p.module().hashCode();
        h = 31 * h + Float.floatToIntBits(p.scale());
        for (float v : p.down()) {
          h = 31 * h + Float.floatToIntBits(v);
        }
        for (float v : p.up()) {
          h = 31 * h + Float.floatToIntBits(v);
        }
      }
      if (any) {
        s.append(s.isEmpty() ? "" : " ").append(l.adapter().name()).append(':');
        s.append(l.strength()).append(':').append(Long.toHexString(h));
      }
    }
    return s.toString();
  }

  /** {@code <lora:name:strength>} for each LoRA, space-separated (A1111's prompt syntax). */
  public String promptTags() {
    StringBuilder s = new StringBuilder();
    for (AppliedLora l : loras) {
      s.append(s.isEmpty() ? "" : " ").append("<lora:").append(l.adapter().name()).append(':');
      s.append(l.strength()).append('>');
    }
    return s.toString();
  }
}
