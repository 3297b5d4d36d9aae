package dev.fleet.engine.lora;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.fleet.engine.Fixtures;
import dev.fleet.engine.flux.FluxParams;
import dev.fleet.engine.model.ModelDirectory;
import dev.fleet.engine.safetensors.TensorStore;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files that are no LoRA the engine understands are refused, naming what was not understood. */
class LoraRefusalTest {
  @TempDir Path tmp;

  private String refused(LoraFiles f) {
    Path file = f.write(tmp.resolve("bad.safetensors"));
    return assertThrows(UnsupportedLoraException.class, () -> LoraReader.read(file)).getMessage();
  }

  private static LoraFiles kohyaModule(String module) {
    return new LoraFiles(1, 0.1f)
        .module(
            module + ".lora_down.weight",
            module + ".lora_up.weight",
            null,
            Float.NaN,
            2,
            64,
            64,
            "img_in",
            0,
            false,
            Double.NaN);
  }

  @Test
  void unknownKeysAreNamed() {
    String m =
        refused(
            kohyaModule("lora_unet_img_in")
                .raw("lora_unet_something_else.lora_down.weight", new long[] {2, 4}, new float[8]));
    assertTrue(m.contains("lora_unet_something_else.lora_down.weight"), m);
    assertTrue(m.contains("not understood"), m);
  }

  @Test
  void lycorisIsRefusedByName() {
    String m =
        refused(
            new LoraFiles(1, 0.1f)
                .raw("lora_unet_img_in.lokr_w1", new long[] {2, 2}, new float[4])
                .raw("lora_unet_img_in.lokr_w2", new long[] {2, 2}, new float[4]));
    assertTrue(m.contains("lokr_w1") && m.contains("LoKr"), m);
  }

  @Test
  void doraIsRefused() {
    String m =
        refused(
            kohyaModule("lora_unet_img_in")
                .raw("lora_unet_img_in.dora_scale", new long[] {1, 64}, new float[64]));
    assertTrue(m.contains("dora_scale") && m.contains("DoRA"), m);
  }

  @Test
  void aMissingFactorIsNamed() {
    String m =
        refused(
            new LoraFiles(1, 0.1f)
                .raw("lora_unet_img_in.lora_down.weight", new long[] {2, 64}, new float[128]));
    assertTrue(m.contains("lora_unet_img_in") && m.contains("no up"), m);
  }

  @Test
  void mismatchedRanksAreNamed() {
    String m =
        refused(
            new LoraFiles(1, 0.1f)
                .raw("lora_unet_img_in.lora_down.weight", new long[] {2, 64}, new float[128])
                .raw("lora_unet_img_in.lora_up.weight", new long[] {64, 3}, new float[192]));
    assertTrue(m.contains("rank 2") && m.contains("has 3"), m);
  }

  @Test
  void t5TextEncoderKeysAreRefusedNotSkipped() {
    String m =
        refused(
            kohyaModule("lora_unet_img_in")
                .raw(
                    "lora_te2_encoder_block_0_layer_0_SelfAttention_q.lora_down.weight",
                    new long[] {2, 4},
                    new float[8]));
    assertTrue(m.contains("lora_te2_encoder_block_0_layer_0_SelfAttention_q"), m);
    assertTrue(m.contains("T5"), m);
    String peft =
        refused(
            kohyaModule("lora_unet_img_in")
                .raw(
                    "text_encoder_2.encoder.block.0.layer.0.SelfAttention.q.lora_A.weight",
                    new long[] {2, 4},
                    new float[8]));
    assertTrue(peft.contains("text_encoder_2.encoder.block.0.layer.0.SelfAttention.q"), peft);
  }

  @Test
  void notSafetensorsIsRefused() throws Exception {
    Path f = Files.writeString(tmp.resolve("x.safetensors"), "hello, not a LoRA");
    String m = assertThrows(UnsupportedLoraException.class, () -> LoraReader.read(f)).getMessage();
    assertTrue(m.contains("x.safetensors"), m);
  }

  @Test
  void aLoraForAnotherModelIsRefusedWhenApplied() throws Exception {
    // A FLUX.1-dev-sized block index and width on the tiny model.
    LoraFiles f =
        new LoraFiles(1, 0.1f)
            .raw(
                "lora_unet_double_blocks_7_img_attn_proj.lora_down.weight",
                new long[] {2, 64},
                new float[128])
            .raw(
                "lora_unet_double_blocks_7_img_attn_proj.lora_up.weight",
                new long[] {64, 2},
                new float[128]);
    LoraAdapter a = LoraReader.read(f.write(tmp.resolve("big.safetensors")));
    DitLinears linears;
    ModelDirectory model = ModelDirectory.resolve(Fixtures.MODEL, null);
    try (TensorStore store = model.openTransformer()) {
      linears = DitLinears.of(FluxParams.infer(store, model.transformerConfig()));
    }
    String m = assertThrows(UnsupportedLoraException.class, () -> linears.check(a)).getMessage();
    assertTrue(m.contains("double_blocks.7.img_attn.proj") && m.contains("2 double"), m);

    LoraFiles wide =
        new LoraFiles(1, 0.1f)
            .raw("lora_unet_img_in.lora_down.weight", new long[] {2, 3072}, new float[6144])
            .raw("lora_unet_img_in.lora_up.weight", new long[] {3072, 2}, new float[6144]);
    LoraAdapter w = LoraReader.read(wide.write(tmp.resolve("wide.safetensors")));
    String mw = assertThrows(UnsupportedLoraException.class, () -> linears.check(w)).getMessage();
    assertTrue(mw.contains("img_in") && mw.contains("does not fit"), mw);
  }
}
