package dev.fleet.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;

import dev.fleet.gateway.loras.LoraLibrary;
import dev.fleet.model.auth.ApiKeyStore;
import dev.fleet.stack.FleetStackTestResource;
import io.quarkus.test.common.TestResourceScope;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.ValidatableResponse;
import jakarta.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LoRAs through the API: {@code GET /v1/loras} lists the files of the LoRA directory, {@code POST
 * /v1/jobs} takes {@code loras} by name and refuses unknown names and bad values naming the field,
 * and the job's view shows them.
 */
@QuarkusTest
@WithTestResource(value = FleetStackTestResource.class, scope = TestResourceScope.GLOBAL)
class LorasTest {
  @Inject ApiKeyStore keys;
  @Inject LoraLibrary library;

  @BeforeEach
  void setUp() throws IOException {
    TestKeys.useByDefault(keys, "default");
    Files.createDirectories(library.dir());
    write(
        library.dir().resolve("style.safetensors"),
        kohya("lora_unet_double_blocks_0_img_attn_qkv", 4));
    write(
        library.dir().resolve("detail.safetensors"), kohya("lora_unet_single_blocks_0_linear1", 8));
    write(
        library.dir().resolve("clip-only.safetensors"),
        kohya("lora_te1_text_model_encoder_layers_0_mlp_fc1", 4));
    write(
        library.dir().resolve("t5-only.safetensors"),
        kohya("lora_te2_encoder_block_0_layer_0_SelfAttention_q", 4));
    Files.write(library.dir().resolve("garbage.safetensors"), new byte[] {1, 2, 3});
  }

  @AfterEach
  void forgetKey() {
    TestKeys.reset();
  }

  static Map<String, long[]> kohya(String module, int rank) {
    return TestLoras.kohya(module, rank, 64, 192);
  }

  static void write(Path file, Map<String, long[]> tensors) throws IOException {
    TestLoras.write(file, tensors, 1, 0);
  }

  static ValidatableResponse submit(String body) {
    return given().contentType(ContentType.JSON).body(body).when().post("/v1/jobs").then();
  }

  @Test
  void listsTheLorasOfTheDirectoryWithFormatAndRank() {
    given()
        .get("/v1/loras")
        .then()
        .statusCode(200)
        .contentType(ContentType.JSON)
        .body("maxPerJob", equalTo(4))
        .body("maxStrength", equalTo(2.0f))
        .body("loras.find { it.name == 'style' }.format", equalTo("kohya"))
        .body("loras.find { it.name == 'style' }.rank", equalTo(4))
        .body("loras.find { it.name == 'style' }.usable", equalTo(true))
        .body("loras.find { it.name == 'style' }.bytes", equalTo(size("style")))
        .body("loras.find { it.name == 'detail' }.rank", equalTo(8))
        .body("loras.find { it.name == 'clip-only' }.usable", equalTo(true))
        .body("loras.find { it.name == 'clip-only' }.format", equalTo("kohya"))
        .body("loras.find { it.name == 't5-only' }.usable", equalTo(false))
        .body("loras.find { it.name == 't5-only' }.problem", containsString("T5 text-encoder"))
        .body("loras.find { it.name == 't5-only' }.problem", containsString("lora_te2_"))
        .body("loras.find { it.name == 'garbage' }.format", equalTo("unsupported"));
    given().header("Authorization", "Bearer not-a-key").get("/v1/loras").then().statusCode(401);
  }

  private int size(String name) {
    try {
      return (int) Files.size(library.dir().resolve(name + ".safetensors"));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void aJobTakesLorasByNameAndShowsThem() {
    String id =
        submit(
                "{\"prompt\":\"a fox\",\"loras\":[{\"name\":\"style\",\"strength\":0.7},"
                    + "{\"name\":\"detail\"}]}")
            .statusCode(202)
            .body("spec.loras[0].name", equalTo("style"))
            .body("spec.loras[0].strength", equalTo(0.7f))
            .body("spec.loras[1].name", equalTo("detail"))
            .body("spec.loras[1].strength", equalTo(1.0f))
            .extract()
            .path("id");
    given()
        .get("/v1/jobs/" + id)
        .then()
        .statusCode(200)
        .body("spec.loras.name", hasItem("detail"))
        .body("spec.loras[0].strength", equalTo(0.7f));
    submit("{\"prompt\":\"a fox\"}").statusCode(202).body("spec.loras.size()", equalTo(0));
  }

  /**
   * A NewBie-image job takes a NewBie LoRA (kohya's names of the Next-DiT's layers) as a FLUX job
   * takes a FLUX one: the library lists it usable and the job carries it to the worker.
   */
  @Test
  void aNewbieJobTakesANewbieLora() throws IOException {
    write(
        library.dir().resolve("newbie-style.safetensors"),
        kohya("lora_unet_layers_0_attention_qkv", 4));
    given()
        .get("/v1/loras")
        .then()
        .statusCode(200)
        .body("loras.find { it.name == 'newbie-style' }.usable", equalTo(true));
    submit(
            "{\"prompt\":\"<character_1>a girl</character_1>\",\"model\":\"newbie\","
                + "\"width\":512,\"height\":512,"
                + "\"loras\":[{\"name\":\"newbie-style\",\"strength\":0.8}]}")
        .statusCode(202)
        .body("spec.model", equalTo("newbie"))
        .body("spec.loras[0].name", equalTo("newbie-style"))
        .body("spec.loras[0].strength", equalTo(0.8f));
  }

  @Test
  void aJobIsPlannedWithItsLoras() throws IOException {
    // rank 64 on every double block's qkv of flux-dev (3072 -> 9216): ~75 MiB of fp16 factors.
    Map<String, long[]> big = new java.util.LinkedHashMap<>();
    for (int b = 0; b < 19; b++) {
      big.putAll(TestLoras.kohya("lora_unet_double_blocks_" + b + "_img_attn_qkv", 64, 3072, 9216));
    }
    TestLoras.write(library.dir().resolve("big.safetensors"), big, 1, 0);
    String job = "{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":1024,\"height\":1024";
    long without =
        submit(job + "}").statusCode(202).extract().jsonPath().getLong("plan.predictedPeakBytes");
    long with =
        submit(job + ",\"loras\":[{\"name\":\"big\"}]}")
            .statusCode(202)
            .extract()
            .jsonPath()
            .getLong("plan.predictedPeakBytes");
    // The adapters make denoising larger, so the planner takes another plan (fewer resident
    // blocks) whose peak may sit in another phase and be lower: the prediction changes either way.
    org.junit.jupiter.api.Assertions.assertNotEquals(
        without, with, "the plan counts the adapters: " + with + " vs " + without);
  }

  static Stream<Arguments> badLoras() {
    return Stream.of(
        Arguments.of("unknown name", "[{\"name\":\"nope\"}]", 422, "loras[0].name"),
        Arguments.of("a path", "[{\"name\":\"../style\"}]", 422, "loras[0].name"),
        Arguments.of("a separator", "[{\"name\":\"a/style\"}]", 422, "loras[0].name"),
        Arguments.of("empty name", "[{\"name\":\"\"}]", 422, "loras[0].name"),
        Arguments.of("no name", "[{\"strength\":1}]", 422, "loras[0].name"),
        Arguments.of(
            "strength 2.5", "[{\"name\":\"style\",\"strength\":2.5}]", 422, "loras[0].strength"),
        Arguments.of(
            "strength -3", "[{\"name\":\"style\",\"strength\":-3}]", 422, "loras[0].strength"),
        Arguments.of(
            "second unknown",
            "[{\"name\":\"style\"},{\"name\":\"missing\"}]",
            422,
            "loras[1].name"),
        Arguments.of(
            "named twice", "[{\"name\":\"style\"},{\"name\":\"style\"}]", 422, "loras[1].name"),
        Arguments.of("T5 text-encoder LoRA", "[{\"name\":\"t5-only\"}]", 422, "loras[0].name"),
        Arguments.of("unreadable file", "[{\"name\":\"garbage\"}]", 422, "loras[0].name"),
        Arguments.of(
            "five LoRAs",
            "[{\"name\":\"style\",\"strength\":0.1},{\"name\":\"detail\"},{\"name\":\"a\"},"
                + "{\"name\":\"b\"},{\"name\":\"c\"}]",
            422,
            "loras"),
        Arguments.of("not an array", "{\"name\":\"style\"}", 400, "loras"),
        Arguments.of("a string item", "[\"style\"]", 400, "loras[0]"),
        Arguments.of(
            "a string strength",
            "[{\"name\":\"style\",\"strength\":\"0.7\"}]",
            400,
            "loras[0].strength"),
        Arguments.of(
            "a path field", "[{\"name\":\"style\",\"path\":\"/etc/x\"}]", 400, "loras[0].path"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badLoras")
  void badLorasAreA4xxProblemNamingTheField(String what, String loras, int status, String field) {
    submit("{\"prompt\":\"x\",\"loras\":" + loras + "}")
        .statusCode(status)
        .contentType("application/problem+json")
        .body("status", equalTo(status))
        .body("errors.field", hasItem(field))
        .body("detail", not(containsString("Exception")));
  }

  @Test
  void anUnknownNameIsNamedWithWhatThereIs() {
    submit("{\"prompt\":\"x\",\"loras\":[{\"name\":\"nope\"}]}")
        .statusCode(422)
        .body("errors[0].message", containsString("unknown LoRA 'nope'"))
        .body("errors[0].message", containsString("style"));
  }
}
