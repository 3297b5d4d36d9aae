package dev.fleet.engine.nextdit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.fleet.engine.checkpoint.UnrecognisedCheckpointException;
import dev.fleet.engine.family.ModelFamilies;
import dev.fleet.engine.memory.ExecutionPlan;
import dev.fleet.engine.model.ModelLocation;
import dev.fleet.engine.pipeline.ExecutionOptions;
import dev.fleet.engine.pipeline.GenerationListener;
import dev.fleet.engine.pipeline.GenerationPipeline;
import dev.fleet.engine.pipeline.PlannedGeneration;
import dev.fleet.engine.safetensors.TensorStore;
import dev.fleet.engine.vae.VaeLayoutTest;
import dev.fleet.engine.weights.ComputeTarget;
import dev.fleet.engine.weights.Weights;
import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoints users have, in the layouts of the real distributions, built from the fixture's
 * files (see {@link NewbieLayouts}) and checked against the fixture's reference outputs: the DiT in
 * diffusers' Lumina2 names (one file, shards with an index, bf16), Gemma under each multimodal
 * prefix beside vision-tower tensors (f32 and bf16), and whole model folders as Hugging Face holds
 * them.
 */
class NewbieLayoutsTest {
  private static final Path FIXTURE_DIT = NewbieFixture.TRANSFORMER.resolve("newbie.safetensors");
  private static final Path GEMMA = NewbieFixture.DIR.resolve("text_encoder");

  @TempDir static Path dir;
  private static TensorStore expected;
  private static NextDitParams params;

  @BeforeAll
  static void open() {
    expected = TensorStore.open(NewbieFixture.EXPECTED);
    params = NextDitParams.read(NewbieFixture.TRANSFORMER);
  }

  @AfterAll
  static void close() {
    expected.close();
  }

  @Test
  void diffusersNamedDitMatchesNewbieModel() throws IOException {
    Path file = dir.resolve("diffusers-dit/diffusion_pytorch_model.safetensors");
    NewbieLayouts.write(NewbieLayouts.diffusersDit(FIXTURE_DIT, params), file);
    try (TensorStore store = TensorStore.open(file)) {
      // The names diffusers' conversion writes, none of NewBie's.
      assertTrue(store.contains("layers.0.attn.to_k.weight"));
      assertTrue(store.contains("context_refiner.1.norm1.weight"));
      assertTrue(store.contains("noise_refiner.0.norm1.norm.weight"));
      assertTrue(store.contains("time_caption_embed.time_text_embed.1.weight"));
      assertFalse(store.contains("layers.0.attention.qkv.weight"));
      assertEquals(NextDitKeyLayout.DIFFUSERS, NextDitKeyLayout.detect(store));
      TensorStore named = NextDitKeyLayout.inNewbieNames(store);
      assertEquals(
          List.of(64L, 32L),
          List.of(
              named.entry("layers.1.attention.qkv.weight").shape()[0],
              named.entry("layers.1.attention.qkv.weight").shape()[1]));
    }
    assertDitParity(file, "dit.out");
  }

  @Test
  void shardedDiffusersDitInBf16MatchesTheBf16Reference() throws IOException {
    Path transformer = dir.resolve("diffusers-bf16/transformer");
    NewbieLayouts.writeSharded(
        NewbieLayouts.diffusersDit(
            NewbieFixture.TRANSFORMER.resolve("newbie-bf16.safetensors"), params),
        transformer,
        "diffusion_pytorch_model",
        3);
    NewbieLayouts.writeDiffusersDitConfig(params, transformer.resolve("config.json"));
    assertEquals(params, NextDitParams.read(transformer));
    assertDitParity(transformer, "dit.out.bf16");
  }

  @Test
  void gemmaUnderEveryMultimodalPrefixMatchesTransformers() throws IOException {
    // transformers >= 4.52 Gemma3ForConditionalGeneration; google/gemma-3-4b-it (older saves);
    // Gemma3Model (AutoModel) saved by transformers >= 4.52; ComfyUI / Gemma3ForCausalLM.
    String[][] layouts = {
      {"model.language_model.", "model."},
      {"language_model.model.", ""},
      {"language_model.", ""},
      {"model.", ""}
    };
    for (String[] l : layouts) {
      Path file = dir.resolve("gemma-" + l[0] + "/model.safetensors");
      NewbieLayouts.write(
          NewbieLayouts.multimodalGemma(GEMMA.resolve("model.safetensors"), l[0], l[1]), file);
      assertGemmaParity(file, "gemma.out.hidden_states_m2", l[0]);
    }
    Path bf16 = dir.resolve("gemma-bf16/model.safetensors");
    NewbieLayouts.write(
        NewbieLayouts.multimodalGemma(
            GEMMA.resolve("model-bf16.safetensors"), "model.language_model.", "model."),
        bf16);
    assertGemmaParity(bf16, "gemma.out.hidden_states_m2.bf16", "model.language_model. bf16");
  }

  @Test
  void anUnknownDitLayoutIsRefusedNamingTheFileAndTheLayoutsTried() throws IOException {
    Path file = dir.resolve("unknown/transformer/dit.safetensors");
    NewbieLayouts.write(NewbieLayouts.read(FIXTURE_DIT, k -> "net." + k), file);
    try (TensorStore store = TensorStore.open(file)) {
      var e =
          assertThrows(
              UnrecognisedCheckpointException.class,
              () -> NextDitTransformer.weightsOf(store, ComputeTarget.cpu()));
      assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("[cap_embedder.1.weight]"), e.getMessage());
      assertTrue(
          e.getMessage().contains("[time_caption_embed.caption_embedder.1.weight]"),
          e.getMessage());
      assertTrue(e.getMessage().contains("net.cap_embedder.0.weight"), e.getMessage());
    }
    Path gemma = dir.resolve("unknown/gemma.safetensors");
    NewbieLayouts.write(
        NewbieLayouts.read(GEMMA.resolve("model.safetensors"), k -> "text." + k), gemma);
    try (TensorStore store = TensorStore.open(gemma)) {
      var e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  Gemma3TextEncoder.load(
                      new Weights(store, ComputeTarget.cpu()), Gemma3Config.read(GEMMA)));
      assertTrue(e.getMessage().contains(gemma.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("'model.language_model.'"), e.getMessage());
    }
  }

  /**
   * A NewBie folder (Gemma's and Jina's folders as NewBie names them) whose DiT is in no known
   * layout is still NewBie's, so its error is the DiT's: the file, the layouts tried, its keys.
   */
  @Test
  void aNewbieFolderWithAnUnknownDitLayoutNamesIt() throws IOException {
    Path root = dir.resolve("unknown-dit/newbie-tiny");
    Path file = root.resolve("transformer/dit.safetensors");
    NewbieLayouts.write(NewbieLayouts.read(FIXTURE_DIT, k -> "net." + k), file);
    Files.copy(
        NewbieFixture.TRANSFORMER.resolve("config.json"), root.resolve("transformer/config.json"));
    writeCommonParts(root, "", "", "clip_model", "clip_tokenizer");
    ModelLocation location = ModelLocation.of(root);
    assertEquals(ModelFamilies.NEWBIE, ModelFamilies.of(location));
    var e =
        assertThrows(
            UnrecognisedCheckpointException.class, () -> ModelFamilies.NEWBIE.dims(location));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("not a NewBie (Next-DiT) transformer"), e.getMessage());
  }

  /**
   * NewBie-AI/NewBie-image-Exp0.1's folder as NewBie's own conversion to the diffusers layout
   * writes it: {@code model_index.json}, the DiT in NewBie's names (here in shards with {@code
   * diffusion_pytorch_model.safetensors.index.json}) with a config that names no caption width,
   * Gemma as a multimodal checkpoint (shards, vision tower beside it) with its tokenizer in {@code
   * text_encoder/}, Jina in {@code clip_model/} with its tokenizer, a diffusers autoencoder with
   * its config: the family recognises it and draws the fixture's image.
   */
  @Test
  void huggingFaceFolderDrawsTheFixturesImage() throws IOException {
    Path root = dir.resolve("hf/newbie-tiny");
    Path transformer = root.resolve("transformer");
    NewbieLayouts.writeSharded(
        NewbieLayouts.read(FIXTURE_DIT, k -> k), transformer, "diffusion_pytorch_model", 2);
    NewbieLayouts.writeNewbieConversionConfig(params, transformer.resolve("config.json"));
    writeCommonParts(root, "language_model.model.", "", "clip_model", null);
    assertEquals(root.resolve("text_encoder"), NewbieDirectory.resolve(root, null).tokenizer());
    assertEquals(root.resolve("clip_model"), NewbieDirectory.resolve(root, null).clipTokenizer());
    assertDrawsTheFixturesImage(root);
  }

  /**
   * diffusers' own NewBie conversion: the DiT in Lumina2 names with its diffusers config, Jina's
   * folders named {@code text_encoder_2/} and {@code tokenizer_2/}, Gemma saved by newer
   * transformers ({@code model.language_model.}).
   */
  @Test
  void diffusersConversionFolderDrawsTheFixturesImage() throws IOException {
    Path root = dir.resolve("diffusers/newbie-tiny");
    Path transformer = root.resolve("transformer");
    NewbieLayouts.writeSharded(
        NewbieLayouts.diffusersDit(FIXTURE_DIT, params), transformer, "diffusion_pytorch_model", 2);
    NewbieLayouts.writeDiffusersDitConfig(params, transformer.resolve("config.json"));
    writeCommonParts(root, "model.language_model.", "model.", "text_encoder_2", "tokenizer_2");
    assertDrawsTheFixturesImage(root);
  }

  /**
   * @param jinaTokenizer Jina's tokenizer folder, or null for tokenizers beside their models
   */
  private static void writeCommonParts(
      Path root, String gemmaPrefix, String visionPrefix, String jinaModel, String jinaTokenizer)
      throws IOException {
    Files.createDirectories(root.resolve("scheduler"));
    Files.writeString(
        root.resolve("scheduler/scheduler_config.json"),
        "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", \"shift\": 6.0}");
    Files.writeString(
        root.resolve("model_index.json"),
        "{\"_class_name\": \"NewbiePipeline\", \"transformer\": [null, null]}");
    Path te = root.resolve("text_encoder");
    NewbieLayouts.writeSharded(
        NewbieLayouts.multimodalGemma(
            GEMMA.resolve("model.safetensors"), gemmaPrefix, visionPrefix),
        te,
        "model",
        2);
    NewbieLayouts.writeMultimodalGemmaConfig(
        GEMMA.resolve("config.json"), te.resolve("config.json"));
    copy(NewbieFixture.DIR.resolve("clip_model"), root.resolve(jinaModel), "config.json");
    copy(NewbieFixture.DIR.resolve("clip_model"), root.resolve(jinaModel), "model.safetensors");
    // Tokenizers in their own folders, or (null) beside their models, as NewBie's conversion saves.
    copy(
        NewbieFixture.DIR.resolve("tokenizer"),
        jinaTokenizer == null ? te : root.resolve("tokenizer"),
        "tokenizer.json");
    copy(
        NewbieFixture.DIR.resolve("clip_tokenizer"),
        root.resolve(jinaTokenizer == null ? jinaModel : jinaTokenizer),
        "tokenizer.json");
    Path vae = root.resolve("vae");
    VaeLayoutTest.writeDiffusersLayout(
        NewbieFixture.VAE, vae.resolve("diffusion_pytorch_model.safetensors"));
    Files.writeString(vae.resolve("config.json"), VaeLayoutTest.TINY_DIFFUSERS_CONFIG);
  }

  private static void copy(Path from, Path to, String file) throws IOException {
    Files.createDirectories(to);
    Files.copy(from.resolve(file), to.resolve(file));
  }

  private static void assertDrawsTheFixturesImage(Path root) {
    ModelLocation location = ModelLocation.of(root);
    assertEquals(ModelFamilies.NEWBIE, ModelFamilies.of(location));
    NewbieDirectory model = NewbieDirectory.resolve(root, null);
    assertEquals(params, model.transformerParams());
    BufferedImage want = ImageAssert.readPng(NewbieFixture.EXPECTED_PNG);
    try (GenerationPipeline p =
        ModelFamilies.of(location)
            .load(
                location,
                ComputeTarget.cpu(),
                List.of(ExecutionPlan.allResident(Long.MAX_VALUE)),
                ExecutionOptions.defaults())) {
      PlannedGeneration g =
          p.generate(PlannedNewbiePipelineTest.fixtureSpec(), GenerationListener.NONE);
      BufferedImage got = ImageAssert.readPng(g.image().png());
      System.out.println(root + " vs expected.png: " + ImageAssert.compare(want, got));
      ImageAssert.assertClose(want, got, root + " vs the reference's expected.png");
    }
  }

  private static void assertDitParity(Path checkpoint, String want) {
    try (TensorStore store = TensorStore.open(checkpoint);
        NextDitTransformer model =
            NextDitTransformer.load(
                NextDitTransformer.weightsOf(store, ComputeTarget.cpu()), params);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out =
          model.forward(
              NewbieFixture.load(expected, "dit.in.x", m),
              NewbieFixture.load(expected, "dit.in.t", m),
              NewbieFixture.load(expected, "dit.in.cap_feats", m),
              NewbieFixture.load(expected, "dit.in.cap_mask", m),
              NewbieFixture.load(expected, "dit.in.clip_text_pooled", m));
      double err = NewbieFixture.relErr(expected, want, out);
      System.out.printf("next-dit %s vs %s: rel L2 %.3e%n", checkpoint, want, err);
      assertTrue(err <= 1e-4, checkpoint + " rel L2 " + err);
    }
  }

  private static void assertGemmaParity(Path file, String want, String layout) {
    try (TensorStore store = TensorStore.open(file);
        Gemma3TextEncoder model =
            Gemma3TextEncoder.load(
                new Weights(store, ComputeTarget.cpu()), Gemma3Config.read(GEMMA));
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      NDArray out =
          model.encode(
              NewbieFixture.load(expected, "gemma.in.ids", m),
              NewbieFixture.load(expected, "gemma.in.mask", m));
      double err = NewbieFixture.relErr(expected, want, out);
      System.out.printf("gemma under %s vs %s: rel L2 %.3e%n", layout, want, err);
      assertTrue(err <= 1e-4, layout + " rel L2 " + err);
    }
  }
}
