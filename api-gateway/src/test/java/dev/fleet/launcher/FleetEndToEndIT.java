package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.gateway.TestLoras;
import dev.fleet.stack.StackConfig;
import dev.fleet.testing.ImageAssert;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The main job end to end through the real processes, as {@code ./fleet run} does it: a {@link
 * LocalFleet} (the embedded Kafka, PostgreSQL and S3 in this JVM; the gateway's and the worker's
 * Quarkus runner jars as child JVMs) on free ports in a temporary data directory, the job submitted
 * through {@link FleetClient} with the body {@link RunMain} builds from the README's command line,
 * followed over Server-Sent Events, the PNG downloaded through its presigned S3 link and compared
 * with the reference fixture.
 *
 * <p>Run by failsafe in {@code ./mvnw verify} (not by {@code ./mvnw test}): api-gateway is the last
 * module of the reactor, so by its {@code integration-test} phase both runner jars exist. The
 * worker's is looked up relative to this module ({@code ../gpu-worker/target/quarkus-app/}); when
 * it is missing the test fails, it does not skip.
 *
 * <p>Failsafe sets two environment variables that {@link LocalFleet} passes to the children: {@code
 * FLEET_WORKER_OPTS} turns off the worker's progress throttling ({@code
 * fleet.worker.progress-interval}, 250 ms by default: the tiny model's steps are faster than that,
 * so otherwise only the first and the last step would be written), and {@code FLEET_GATEWAY_OPTS}
 * registers the real-size {@code flux-dev} model, for the refusal of a job no memory class holds.
 *
 * <p>In package {@code dev.fleet.launcher} for the launcher's package-private client and parser.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class FleetEndToEndIT {
  /** {@code ./fleet run}'s arguments in the README and in issue 4. */
  private static final String[] RUN_ARGS = {
    "a red fox sitting in the snow at dawn, highly detailed",
    "--seed",
    "1234",
    "--steps",
    "4",
    "--width",
    "128",
    "--height",
    "96",
    "--guidance",
    "3.5"
  };

  private static final String WORKER_JAR = "gpu-worker/target/quarkus-app/quarkus-run.jar";
  private static final String GATEWAY_JAR = "api-gateway/target/quarkus-app/quarkus-run.jar";
  private static final String EXPECTED_PNG =
      "gpu-worker/src/test/resources/fixtures/flux-tiny/expected.png";
  private static final String MODEL_DIR = "gpu-worker/models/flux-tiny";

  /**
   * A job of the tiny model that runs long enough to be caught running: the largest size and the
   * most steps the registry allows.
   */
  private static final String LONG_JOB =
      "{\"prompt\":\"a long job\",\"seed\":7,\"steps\":50,\"width\":1024,\"height\":1024}";

  private static final Duration JOB_WAIT = Duration.ofSeconds(60);

  private Path root;
  private Path work;
  private LocalFleet fleet;
  private FleetClient client;
  private HttpClient http;
  private Set<Long> earlierDescendants;

  @BeforeAll
  @Timeout(value = 200, unit = TimeUnit.SECONDS)
  void startTheFleet() throws IOException {
    Path module =
        Path.of(System.getProperty("fleet.it.basedir", System.getProperty("user.dir")))
            .toAbsolutePath()
            .normalize();
    root = module.getParent();
    Path workerJar = module.resolve("..").resolve(WORKER_JAR).normalize();
    if (!Files.isRegularFile(workerJar)) {
      fail(
          "the worker's runner jar "
              + workerJar
              + " is missing: build gpu-worker first (./mvnw -B verify from the repository root"
              + " builds it before api-gateway; or ./mvnw -B package -pl gpu-worker -am"
              + " -DskipTests)");
    }
    Path gatewayJar = root.resolve(GATEWAY_JAR);
    if (!Files.isRegularFile(gatewayJar)) {
      fail(
          "the gateway's runner jar "
              + gatewayJar
              + " is missing: this test runs in api-gateway's integration-test phase, after"
              + " package (./mvnw -B verify -pl api-gateway)");
    }
    String workerOpts = System.getenv().getOrDefault("FLEET_WORKER_OPTS", "");
    String gatewayOpts = System.getenv().getOrDefault("FLEET_GATEWAY_OPTS", "");
    if (!workerOpts.contains("-Dfleet.worker.progress-interval=0")
        || !gatewayOpts.contains("-Dfleet.models.flux-dev.family=")) {
      fail(
          "FLEET_WORKER_OPTS and FLEET_GATEWAY_OPTS are not set as api-gateway/pom.xml's failsafe"
              + " configuration sets them: run this test through ./mvnw verify");
    }

    earlierDescendants =
        ProcessHandle.current().descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
    Path target = module.resolve("target");
    Files.createDirectories(target);
    work = Files.createTempDirectory(target, "fleet-it-");
    http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    long t0 = System.nanoTime();
    fleet =
        LocalFleet.start(
            new LocalFleet.Options(
                root,
                StackConfig.withFreePorts(work.resolve("data")),
                root.resolve(MODEL_DIR),
                0,
                0,
                Duration.ofSeconds(150),
                true,
                System.out,
                work.resolve("loras")));
    // Only the logs stay (target/fleet-it-*/data/logs), for a look after a failure.
    fleet.keepLogs();
    client = new FleetClient(fleet.gatewayUrl(), fleet.devKey());
    // What the check after close() looks for: the gateway and the worker (children of this JVM),
    // PostgreSQL (pg_ctl detaches it: found by its data directory).
    List<ProcessHandle> running = survivors();
    log("fleet processes: %s", running.stream().map(FleetEndToEndIT::describe).toList());
    assertTrue(
        running.stream().filter(FleetEndToEndIT::isDescendant).count() >= 2,
        "the gateway and the worker are children of this JVM: " + running);
    assertTrue(
        running.stream().anyMatch(p -> !isDescendant(p)),
        "PostgreSQL runs on the data directory: " + running);
    log("fleet started in %.1f s; logs in %s", seconds(t0), fleet.logDir());
  }

  @AfterAll
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void stopTheFleetAndLeaveNoProcess() throws Exception {
    if (client != null) {
      client.close();
    }
    if (http != null) {
      http.close();
    }
    if (fleet == null) {
      return;
    }
    long t0 = System.nanoTime();
    fleet.close();
    log("fleet stopped in %.1f s", seconds(t0));
    // The gateway and the worker, and PostgreSQL's server processes: all gone, soon.
    List<ProcessHandle> left = survivors();
    Instant deadline = Instant.now().plusSeconds(20);
    while (!left.isEmpty() && Instant.now().isBefore(deadline)) {
      Thread.sleep(200);
      left = survivors();
    }
    assertEquals(
        "",
        left.stream().map(FleetEndToEndIT::describe).collect(Collectors.joining("; ")),
        "processes of the fleet outlived its close()");
  }

  /**
   * The fleet's processes still alive: this JVM's descendants that were not there before the fleet
   * started, and any process whose command line names the fleet's directory (PostgreSQL's server,
   * which pg_ctl detaches from this JVM).
   */
  private List<ProcessHandle> survivors() {
    String dir = work.toString();
    return ProcessHandle.allProcesses()
        .filter(ProcessHandle::isAlive)
        .filter(p -> p.pid() != ProcessHandle.current().pid())
        .filter(
            p ->
                (isDescendant(p) && !earlierDescendants.contains(p.pid()))
                    || p.info().commandLine().orElse("").contains(dir))
        .toList();
  }

  private static boolean isDescendant(ProcessHandle p) {
    for (var parent = p.parent(); parent.isPresent(); parent = parent.get().parent()) {
      if (parent.get().pid() == ProcessHandle.current().pid()) {
        return true;
      }
    }
    return false;
  }

  @Test
  @Order(4)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void keysOfFleetKeysCreateSeeOnlyTheirTenantsJobs() throws Exception {
    String alice = createKey("alice");
    String bob = createKey("bob");
    String body = "{\"prompt\":\"alice's secret fox\",\"steps\":50}";
    HttpResponse<String> submitted = call("POST", "/v1/jobs", alice, body);
    assertEquals(202, submitted.statusCode(), submitted.body());
    String id = FleetClient.JSON.readTree(submitted.body()).path("id").asText();

    for (String[] c :
        new String[][] {
          {"GET", "/v1/jobs/" + id},
          {"GET", "/v1/jobs/" + id + "/events"},
          {"GET", "/v1/jobs/" + id + "/image"},
          {"DELETE", "/v1/jobs/" + id}
        }) {
      HttpResponse<String> r = call(c[0], c[1], bob, null);
      assertEquals(404, r.statusCode(), c[0] + " " + c[1] + ": " + r.body());
      assertFalse(r.body().contains("secret"), r.body());
      HttpResponse<String> anonymous = call(c[0], c[1], null, null);
      assertEquals(401, anonymous.statusCode(), c[0] + " " + c[1]);
      assertTrue(
          anonymous.headers().firstValue("Content-Type").orElse("").contains("problem+json"));
    }
    HttpResponse<String> bobs = call("GET", "/v1/jobs", bob, null);
    assertEquals(200, bobs.statusCode());
    assertFalse(bobs.body().contains(id), bobs.body());
    assertTrue(call("GET", "/v1/jobs", alice, null).body().contains(id));

    // Alice cancels her own job; bob's DELETE above changed nothing.
    HttpResponse<String> cancelled = call("DELETE", "/v1/jobs/" + id, alice, null);
    assertTrue(cancelled.statusCode() == 200 || cancelled.statusCode() == 202, cancelled.body());

    // ./fleet keys list and revoke.
    var listing = new java.io.ByteArrayOutputStream();
    assertEquals(
        0,
        KeysMain.run(
            new String[] {"list", "--data", fleet.dataDir().toString()},
            new java.io.PrintStream(listing, true),
            System.err));
    String bobId = bob.substring(3, 3 + 12);
    assertTrue(listing.toString().contains(bobId), listing.toString());
    assertFalse(listing.toString().contains(bob), "a listing never shows a key");
    assertEquals(
        0,
        KeysMain.run(
            new String[] {"revoke", bobId, "--data", fleet.dataDir().toString()},
            System.out,
            System.err));
    // The gateway keeps checked keys in memory and drops one when PostgreSQL announces its
    // revocation: a revocation by another process takes effect within the notification's delay.
    long revoked = System.nanoTime();
    int status = call("GET", "/v1/jobs", bob, null).statusCode();
    while (status != 401 && System.nanoTime() - revoked < 2_000_000_000L) {
      Thread.sleep(5);
      status = call("GET", "/v1/jobs", bob, null).statusCode();
    }
    assertEquals(401, status, "bob's key still works 2 s after ./fleet keys revoke");
    System.out.printf(
        "FleetEndToEndIT: bob's key refused %.1f ms after ./fleet keys revoke returned%n",
        (System.nanoTime() - revoked) / 1e6);
  }

  @Test
  @Order(5)
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void aWorkerKilledWithSigkillIsRestartedAndTakesJobsAgain() throws Exception {
    List<String> events = new CopyOnWriteArrayList<>();
    fleet.supervise(events::add);
    ProcessHandle worker =
        ProcessHandle.current()
            .children()
            .filter(p -> p.info().commandLine().orElse("").contains("gpu-worker"))
            .findFirst()
            .orElseThrow();
    long t0 = System.nanoTime();
    worker.destroyForcibly();
    HealthProbe probe = new HealthProbe(Duration.ofSeconds(2));
    URI ready = fleet.workerUrl().resolve("/q/health/ready");
    while (!(events.stream().anyMatch(e -> e.contains("started again")) && probe.ready(ready))) {
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(90), "no restart: " + events);
      Thread.sleep(200);
    }
    log("worker restarted and ready %.1f s after SIGKILL", (System.nanoTime() - t0) / 1e9);
    JsonNode job =
        client.submit(RunMain.parse(new String[] {"after the crash", "--steps", "2"}).body());
    long t1 = System.nanoTime();
    JsonNode done = client.follow(job.path("id").asText(), Instant.now().plusSeconds(150), u -> {});
    assertEquals("SUCCEEDED", done.path("status").asText(), done.toString());
    // Until the dead member's Kafka session times out, its partitions wait: that is the delay.
    log("a job submitted after the restart succeeded in %.1f s", (System.nanoTime() - t1) / 1e9);
  }

  /** {@code ./fleet keys create --tenant T} against this fleet: the key on the last line. */
  private String createKey(String tenant) {
    var out = new java.io.ByteArrayOutputStream();
    int status =
        KeysMain.run(
            new String[] {"create", "--tenant", tenant, "--data", fleet.dataDir().toString()},
            new java.io.PrintStream(out, true),
            System.err);
    assertEquals(0, status);
    String[] lines = out.toString().strip().split("\\R");
    return lines[lines.length - 1];
  }

  private HttpResponse<String> call(String method, String path, String key, String body)
      throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(fleet.gatewayUrl().resolve(path))
            .timeout(Duration.ofSeconds(10))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  @Order(1)
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void aJobTooLargeForEveryMemoryClassGets422WithTheNumbers() throws Exception {
    HttpResponse<String> r =
        post("{\"prompt\":\"x\",\"model\":\"flux-dev\",\"width\":4096,\"height\":4096}");
    assertEquals(422, r.statusCode(), r.body());
    assertEquals(
        "application/problem+json",
        r.headers().firstValue("Content-Type").orElse("").split(";")[0].strip());
    JsonNode problem = FleetClient.JSON.readTree(r.body());
    assertEquals("urn:fleet:problem:too-large-for-gpus", problem.path("type").asText());
    assertEquals(422, problem.path("status").asInt());
    String detail = problem.path("detail").asText();
    Matcher m =
        Pattern.compile(
                "4096x4096 needs (\\d+\\.\\d) GiB of GPU memory .*"
                    + "the largest class (\\S+) has (\\d+\\.\\d) GiB")
            .matcher(detail);
    assertTrue(
        m.find(), "the refusal names what the job needs and what the largest class has: " + detail);
    double needs = Double.parseDouble(m.group(1));
    double largest = Double.parseDouble(m.group(3));
    assertTrue(needs > largest, detail);
    List<String> fields = new ArrayList<>();
    problem.path("errors").forEach(e -> fields.add(e.path("field").asText()));
    assertTrue(fields.contains("width") && fields.contains("height"), r.body());
    log("422 as expected: %s", detail);
  }

  @Test
  @Order(2)
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void cancellingAQueuedAndARunningJobEndsThemCancelled() throws Exception {
    String running = submit(LONG_JOB);
    JsonNode started = await(running, j -> j.path("progress").path("step").asInt() >= 1);
    assertEquals("RUNNING", started.path("status").asText(), started.toString());

    // Queued behind it (the worker runs one job at a time): cancelled at once.
    String queued = submit(LONG_JOB.replace("a long job", "a queued job"));
    HttpResponse<String> q = delete(queued);
    assertEquals(200, q.statusCode(), q.body());
    assertEquals("CANCELLED", FleetClient.JSON.readTree(q.body()).path("status").asText());

    // Running: requested (202), stopped by the worker at its next step.
    long t0 = System.nanoTime();
    HttpResponse<String> r = delete(running);
    assertEquals(202, r.statusCode(), r.body());
    JsonNode done = await(running, j -> FleetClient.TERMINAL.contains(j.path("status").asText()));
    assertEquals("CANCELLED", done.path("status").asText(), done.toString());
    int step = done.path("progress").path("step").asInt();
    assertTrue(step < 50, "cancelled before its last step, at step " + step);
    assertTrue(done.path("result").isMissingNode(), done.toString());
    log("running job cancelled at step %d/50, %.1f s after DELETE", step, seconds(t0));
  }

  @Test
  @Order(3)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void fleetRunsFoxComesBackAsTheFixturePixelForPixel() throws Exception {
    // A job ahead of the fox keeps it queued until its event stream is open, so that no step can
    // pass before the stream listens; then that job is cancelled and the fox runs.
    String ahead = submit(LONG_JOB.replace("a long job", "a job ahead"));
    await(ahead, j -> j.path("status").asText().equals("RUNNING"));

    ObjectNode body = RunMain.parse(RUN_ARGS).body();
    assertEquals(
        "{\"prompt\":\"a red fox sitting in the snow at dawn, highly detailed\",\"seed\":1234,"
            + "\"steps\":4,\"width\":128,\"height\":96,\"guidance\":3.5}",
        FleetClient.JSON.writeValueAsString(body));
    long t0 = System.nanoTime();
    JsonNode accepted = client.submit(body);
    String id = accepted.path("id").asText();
    assertEquals("QUEUED", accepted.path("status").asText(), accepted.toString());
    JsonNode spec = accepted.path("spec");
    assertEquals("flux-tiny", spec.path("model").asText());
    assertEquals(1234, spec.path("seed").asLong());
    assertEquals(4, spec.path("steps").asInt());
    assertEquals(128, spec.path("width").asInt());
    assertEquals(96, spec.path("height").asInt());
    assertEquals(3.5, spec.path("guidance").asDouble());

    List<FleetClient.Update> updates = new CopyOnWriteArrayList<>();
    Instant deadline = Instant.now().plus(JOB_WAIT);
    CompletableFuture<JsonNode> followed =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return client.follow(id, deadline, updates::add);
              } catch (IOException e) {
                throw new IllegalStateException(e);
              }
            });
    // The stream's first event is the job as it is: still queued.
    Instant open = Instant.now().plusSeconds(20);
    while (updates.isEmpty() && Instant.now().isBefore(open) && !followed.isDone()) {
      Thread.sleep(20);
    }
    assertFalse(updates.isEmpty(), "no event of job " + id + " within 20 s");
    assertEquals("QUEUED", updates.getFirst().status(), updates.getFirst().raw().toString());

    HttpResponse<String> cancel = delete(ahead);
    assertEquals(202, cancel.statusCode(), cancel.body());
    JsonNode done = followed.get(JOB_WAIT.toSeconds(), TimeUnit.SECONDS);
    double jobSeconds = seconds(t0);
    assertEquals(
        "CANCELLED",
        client.job(ahead).path("status").asText(),
        "the job ahead of the fox was cancelled");

    assertEquals("SUCCEEDED", done.path("status").asText(), done.toString());
    // Steps as the stream pushed them: the progress events ({id, status, step, steps, ...}), not
    // the whole job (which has a progress object), which a poll would have given.
    Set<Integer> streamed = new TreeSet<>();
    for (FleetClient.Update u : updates) {
      if (!u.raw().has("progress") && u.steps() == 4 && u.step() > 0) {
        streamed.add(u.step());
      }
    }
    assertEquals(
        new TreeSet<>(List.of(1, 2, 3, 4)),
        streamed,
        "every step over Server-Sent Events; the stream gave "
            + updates.stream()
                .map(u -> u.status() + " " + u.step() + "/" + u.steps())
                .collect(Collectors.joining(", ")));
    assertEquals("SUCCEEDED", updates.getLast().status());

    JsonNode result = done.path("result");
    assertEquals(128, result.path("width").asInt());
    assertEquals(96, result.path("height").asInt());
    assertEquals(1234, result.path("seed").asLong());
    URI link = URI.create(result.path("url").asText());
    assertTrue(
        link.getRawQuery() != null && link.getRawQuery().contains("X-Amz-Signature="),
        "a presigned link: " + link);
    assertEquals(
        URI.create(fleet.endpoints().s3Endpoint()).getPort(),
        link.getPort(),
        "the link goes to S3: " + link);
    Path png = work.resolve("fox.png");
    long size = client.download(link, png);
    assertEquals(result.path("bytes").asLong(), size);
    log(
        "fox %s: submitted to downloaded in %.1f s (with the job ahead's cancel), %d bytes, %s",
        id, jobSeconds, size, png);

    // The reference's image: bit-identical on the CPU that made it, within ±1 on others.
    BufferedImage expected = ImageAssert.readPng(root.resolve(EXPECTED_PNG));
    BufferedImage actual = ImageAssert.readPng(png);
    ImageAssert.Difference difference = ImageAssert.compare(expected, actual);
    log("fox vs expected.png: %s", difference);
    ImageAssert.assertClose(expected, actual, "fox vs expected.png");
  }

  @Test
  @Order(6)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void fleetRunWithALoraMakesAnotherImageAndRecordsIt() throws Exception {
    assertEquals(work.resolve("loras").toAbsolutePath().normalize(), fleet.lorasDir());
    Map<String, long[]> tensors =
        new LinkedHashMap<>(TestLoras.kohya("lora_unet_double_blocks_0_img_attn_qkv", 4, 64, 192));
    tensors.putAll(TestLoras.kohya("lora_unet_double_blocks_0_img_attn_proj", 4, 64, 64));
    TestLoras.write(fleet.lorasDir().resolve("it-style.safetensors"), tensors, 3, 0.2f);

    HttpResponse<String> unknown = post("{\"prompt\":\"x\",\"loras\":[{\"name\":\"not-there\"}]}");
    assertEquals(422, unknown.statusCode(), unknown.body());
    assertTrue(unknown.body().contains("loras[0].name"), unknown.body());
    assertTrue(
        unknown.body().contains("it-style"), "the message lists what exists: " + unknown.body());

    String[] args = Arrays.copyOf(RUN_ARGS, RUN_ARGS.length + 2);
    args[RUN_ARGS.length] = "--lora";
    args[RUN_ARGS.length + 1] = "it-style:0.7";
    ObjectNode body = RunMain.parse(args).body();
    JsonNode accepted = client.submit(body);
    String id = accepted.path("id").asText();
    assertEquals("it-style", accepted.path("spec").path("loras").path(0).path("name").asText());
    assertEquals(0.7, accepted.path("spec").path("loras").path(0).path("strength").asDouble());
    JsonNode done = await(id, j -> j.path("status").asText().equals("SUCCEEDED"));
    Path png = work.resolve("fox-lora.png");
    client.download(URI.create(done.path("result").path("url").asText()), png);
    byte[] bytes = Files.readAllBytes(png);
    String text = new String(bytes, StandardCharsets.ISO_8859_1);
    assertTrue(text.contains("<lora:it-style:0.7>"), "the parameters carry the LoRA's tag");
    assertTrue(text.contains("loras\0it-style:0.7"), "the loras text chunk");
    ImageAssert.Difference difference =
        ImageAssert.compare(
            ImageAssert.readPng(root.resolve(EXPECTED_PNG)), ImageAssert.readPng(png));
    log("fox with it-style:0.7 vs expected.png (without): %s", difference);
    assertTrue(
        difference.identicalPixels() < 0.5 * difference.pixels(),
        "the LoRA changes the image: " + difference);
  }

  // --- helpers ----------------------------------------------------------------------------------

  private String submit(String json) throws IOException {
    ObjectNode body = (ObjectNode) FleetClient.JSON.readTree(json);
    JsonNode job = client.submit(body);
    String id = job.path("id").asText();
    assertFalse(id.isEmpty(), job.toString());
    return id;
  }

  /** Polls {@code GET /v1/jobs/{id}} until {@code until} holds, at most {@link #JOB_WAIT}. */
  private JsonNode await(String id, Predicate<JsonNode> until) throws Exception {
    Instant deadline = Instant.now().plus(JOB_WAIT);
    JsonNode job = client.job(id);
    while (!until.test(job)) {
      if (Instant.now().isAfter(deadline)) {
        fail("job " + id + " did not get there within " + JOB_WAIT.toSeconds() + " s: " + job);
      }
      if (FleetClient.TERMINAL.contains(job.path("status").asText())) {
        fail("job " + id + " ended before it got there: " + job);
      }
      Thread.sleep(50);
      job = client.job(id);
    }
    return job;
  }

  private HttpResponse<String> post(String json) throws Exception {
    return http.send(
        HttpRequest.newBuilder(fleet.gatewayUrl().resolve("/v1/jobs"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + fleet.devKey())
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> delete(String id) throws Exception {
    return http.send(
        HttpRequest.newBuilder(fleet.gatewayUrl().resolve("/v1/jobs/" + id))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + fleet.devKey())
            .DELETE()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static String describe(ProcessHandle p) {
    String line = p.info().commandLine().orElse(p.info().command().orElse("?"));
    return p.pid() + " " + (line.length() > 160 ? line.substring(0, 160) + "..." : line);
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void log(String format, Object... args) {
    System.out.println("FleetEndToEndIT: " + String.format(Locale.ROOT, format, args));
    System.out.flush();
  }
}
