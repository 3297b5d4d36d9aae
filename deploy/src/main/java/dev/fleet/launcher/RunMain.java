package dev.fleet.launcher;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.model.cli.CommandLines;
import dev.fleet.stack.StackConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;

/**
 * {@code ./fleet run "PROMPT" [options]}: one image through the fleet's HTTP API.
 *
 * <p>Uses the fleet at {@code $FLEET_URL} (default {@value #DEFAULT_URL}) when its readiness
 * answers 200 within a second; otherwise boots an ephemeral {@link LocalFleet} on free ports in a
 * temporary directory, deleted afterwards. Submits the job ({@code POST /v1/jobs}; options not
 * given are not sent, so the gateway applies the model's defaults), follows it (Server-Sent Events;
 * {@code step k/n} lines on stderr), downloads the image from the presigned link and prints one
 * JSON line on stdout: {@code {"id", "out", "seed", "seconds"}} (seconds from submission to the
 * written file).
 *
 * <p>The API key: a local fleet's own development key; otherwise {@code $FLEET_API_KEY}, or, for a
 * fleet on this machine, the development key of this checkout's {@code ./fleet up} ({@code
 * .fleet/dev-key}).
 *
 * <p>Exit status: 0 done; 1 the job failed, was cancelled or timed out, or the fleet did not work;
 * 2 bad arguments (also when the gateway refuses a field: the option is named).
 */
public final class RunMain {
  static final String DEFAULT_URL = "http://localhost:8080";
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);
  static final Duration PROBE_TIMEOUT = Duration.ofSeconds(1);

  /** The API's field names and the options that set them. */
  private static final Map<String, String> OPTION_OF_FIELD =
      Map.of(
          "prompt", "PROMPT",
          "seed", "--seed",
          "steps", "--steps",
          "width", "--width",
          "height", "--height",
          "guidance", "--guidance",
          "model", "--model",
          "loras", "--lora");

  private RunMain() {}

  /** One {@code --lora NAME[:STRENGTH]}: a LoRA of the fleet's LoRA directory, by name. */
  record Lora(String name, double strength) {
    /**
     * {@code NAME} (strength 1) or {@code NAME:STRENGTH}; the text after the last {@code :} is the
     * strength when it parses as a number.
     */
    static Lora parse(String value) {
      String v = value.trim();
      int colon = v.lastIndexOf(':');
      if (colon > 0) {
        try {
          double strength = Double.parseDouble(v.substring(colon + 1).trim());
          if (!Double.isFinite(strength)) {
            throw new UsageException("--lora " + value + ": the strength must be a finite number");
          }
          return new Lora(v.substring(0, colon), strength);
        } catch (NumberFormatException e) {
          // not a strength: part of the name (which the gateway then refuses, naming it)
        }
      }
      if (v.isEmpty()) {
        throw new UsageException("--lora needs a LoRA name (NAME or NAME:STRENGTH)");
      }
      return new Lora(v, 1.0);
    }
  }

  /** A bad command line: exit status 2, the message names the option. */
  static final class UsageException extends IllegalArgumentException {
    UsageException(String message) {
      super(message);
    }
  }

  /**
   * The command line. Every job field is null when not given. {@code root} and {@code modelDir} are
   * supplied by the launcher, for booting a local fleet.
   */
  record Args(
      String prompt,
      Long seed,
      Integer steps,
      Integer width,
      Integer height,
      Double guidance,
      String model,
      Path out,
      Duration timeout,
      Path root,
      Path modelDir,
      boolean help,
      List<Lora> loras) {

    Args {
      loras = loras == null ? List.of() : List.copyOf(loras);
    }

    /** The body of {@code POST /v1/jobs}: only what was given. */
    ObjectNode body() {
      ObjectNode b = FleetClient.JSON.createObjectNode();
      b.put("prompt", prompt);
      if (seed != null) {
        b.put("seed", seed);
      }
      if (steps != null) {
        b.put("steps", steps);
      }
      if (width != null) {
        b.put("width", width);
      }
      if (height != null) {
        b.put("height", height);
      }
      if (guidance != null) {
        b.put("guidance", guidance);
      }
      if (model != null) {
        b.put("model", model);
      }
      if (!loras.isEmpty()) {
        var array = b.putArray("loras");
        for (Lora l : loras) {
          array.addObject().put("name", l.name()).put("strength", l.strength());
        }
      }
      return b;
    }
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Runs the command; returns the exit status. */
  static int run(String[] argv, PrintStream out, PrintStream err) {
    Args args;
    try {
      args = parse(argv);
    } catch (UsageException e) {
      err.println("fleet run: " + e.getMessage());
      err.println("usage: " + USAGE_LINE + " (./fleet run --help)");
      return 2;
    }
    if (args.help()) {
      out.println(usage());
      return 0;
    }

    String url = System.getenv().getOrDefault("FLEET_URL", DEFAULT_URL);
    URI base;
    try {
      base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
      if (base.getScheme() == null || base.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
    } catch (IllegalArgumentException e) {
      err.println("fleet run: FLEET_URL is not an http URL: " + url);
      return 2;
    }

    LocalFleet fleet = null;
    Path tmp = null;
    boolean ok = false;
    String apiKey = System.getenv("FLEET_API_KEY");
    if (apiKey != null && apiKey.isBlank()) {
      apiKey = null;
    }
    try {
      int health = new HealthProbe(PROBE_TIMEOUT).status(URI.create(base + "/q/health/ready"));
      if (health != 200) {
        err.println(
            "fleet: "
                + (health < 0
                    ? "no fleet answers at " + base
                    : "the fleet at " + base + " is not ready (" + health + ")")
                + "; starting a throw-away local one");
        if (args.root() == null || args.modelDir() == null) {
          err.println("fleet run: cannot start a local fleet without --root and --model-dir");
          return 2;
        }
        tmp = Files.createTempDirectory("fleet-run-");
        fleet =
            LocalFleet.start(
                new LocalFleet.Options(
                    args.root(),
                    StackConfig.withFreePorts(tmp),
                    args.modelDir(),
                    0,
                    0,
                    LocalFleet.DEFAULT_READY_TIMEOUT,
                    true,
                    err));
        base = fleet.gatewayUrl();
        apiKey = fleet.devKey();
      } else if (apiKey == null && args.root() != null && isLoopback(base)) {
        // The ./fleet up of this checkout: its development key.
        apiKey = DevKey.read(args.root().resolve(".fleet")).orElse(null);
      }
      int status = submitAndFetch(base, apiKey, args, out, err);
      ok = status != 1; // a refused option (2) needs no logs either
      return status;
    } catch (LocalFleet.Stopped e) {
      ok = true; // Ctrl-C: nothing to report, nothing to keep
      return 130;
    } catch (IOException e) {
      if (fleet != null && fleet.isClosing()) {
        ok = true; // Ctrl-C while the job ran: the fleet went away under it
        return 130;
      }
      err.println("fleet run: " + FailureMessage.describe(e));
      return 1;
    } finally {
      if (fleet != null) {
        if (!ok) {
          fleet.keepLogs();
        }
        try {
          fleet.close();
        } catch (IOException e) {
          err.println("fleet: " + e.getMessage());
        }
        if (!ok) {
          err.println("fleet: the local fleet's logs are in " + fleet.logDir());
        }
      } else if (tmp != null) {
        // LocalFleet.start failed: it kept the logs (if it got that far) and deleted the rest.
        Path logs = tmp.resolve("logs");
        if (!ok && hasFiles(logs)) {
          err.println("fleet: the local fleet's logs are in " + logs);
        } else {
          Cleanup.deleteTree(tmp, null);
        }
      }
    }
  }

  private static boolean hasFiles(Path dir) {
    try (var files = Files.list(dir)) {
      return files.findAny().isPresent();
    } catch (IOException e) {
      return false;
    }
  }

  private static boolean isLoopback(URI base) {
    String host = base.getHost();
    return host.equals("localhost") || host.equals("127.0.0.1") || host.equals("[::1]");
  }

  private static int submitAndFetch(
      URI base, String apiKey, Args args, PrintStream out, PrintStream err) throws IOException {
    try (FleetClient client = new FleetClient(base, apiKey)) {
      long t0 = System.nanoTime();
      JsonNode job;
      try {
        job = client.submit(args.body());
      } catch (FleetClient.ApiException e) {
        return refused(e, err);
      }
      String id = job.path("id").asText();
      JsonNode spec = job.path("spec");
      err.printf(
          Locale.ROOT,
          "job %s %s: %s, %dx%d, %d steps, guidance %s, seed %d%s%n",
          id,
          job.path("status").asText().toLowerCase(Locale.ROOT),
          spec.path("model").asText(),
          spec.path("width").asInt(),
          spec.path("height").asInt(),
          spec.path("steps").asInt(),
          spec.path("guidance").asText(),
          spec.path("seed").asLong(),
          lorasText(spec.path("loras")));

      Instant deadline = Instant.now().plus(args.timeout());
      int[] lastStep = {-1};
      String[] lastStatus = {job.path("status").asText()};
      JsonNode done;
      try {
        done =
            client.follow(
                id,
                deadline,
                u -> {
                  if (!u.status().equals(lastStatus[0]) && !u.terminal()) {
                    lastStatus[0] = u.status();
                    err.println(u.status().toLowerCase(Locale.ROOT));
                  }
                  if (u.steps() > 0 && u.step() > 0 && u.step() != lastStep[0]) {
                    lastStep[0] = u.step();
                    err.println("step " + u.step() + "/" + u.steps());
                  }
                });
      } catch (FleetClient.DeadlineException e) {
        err.println(
            "fleet run: job "
                + id
                + " did not finish within "
                + args.timeout().toSeconds()
                + " s (--timeout); it goes on: "
                + base
                + "/v1/jobs/"
                + id);
        return 1;
      }

      String status = done.path("status").asText();
      if (!status.equals("SUCCEEDED")) {
        JsonNode error = done.path("error");
        err.println(
            "fleet run: job "
                + id
                + " "
                + status
                + (error.isMissingNode()
                    ? ""
                    : ": " + error.path("code").asText() + ": " + error.path("message").asText()));
        return 1;
      }
      String link = done.path("result").path("url").asText("");
      if (link.isEmpty()) {
        err.println("fleet run: job " + id + " succeeded but its result has no url");
        return 1;
      }
      Path file = args.out() != null ? args.out() : Path.of("fleet-" + id + ".png");
      file = file.toAbsolutePath().normalize();
      client.download(URI.create(link), file);
      double seconds = (System.nanoTime() - t0) / 1e9;

      ObjectNode summary = FleetClient.JSON.createObjectNode();
      summary.put("id", id);
      summary.put("out", file.toString());
      summary.put("seed", done.path("spec").path("seed").asLong());
      summary.put("seconds", Math.round(seconds * 1000) / 1000.0);
      out.println(FleetClient.JSON.writeValueAsString(summary));
      out.flush();
      return 0;
    }
  }

  /** {@code , LoRAs a:0.7, b:1} for a spec with LoRAs, empty without. */
  static String lorasText(JsonNode loras) {
    if (!loras.isArray() || loras.isEmpty()) {
      return "";
    }
    List<String> parts = new ArrayList<>();
    for (JsonNode l : loras) {
      parts.add(l.path("name").asText() + ":" + l.path("strength").asText());
    }
    return ", LoRAs " + String.join(", ", parts);
  }

  /** A refused submission: 400/422 name fields, which are options here (exit 2). */
  private static int refused(FleetClient.ApiException e, PrintStream err) {
    if (e.status == 401) {
      err.println("fleet run: " + e.getMessage());
      err.println(
          "fleet run: the fleet asks for an API key: set FLEET_API_KEY (./fleet keys create"
              + " --tenant NAME makes one)");
      return 1;
    }
    if (e.status == 400 || e.status == 422) {
      var fields = e.fieldErrors();
      if (!fields.isEmpty()) {
        for (String[] f : fields) {
          String option =
              f[0].startsWith("loras")
                  ? "--lora (" + f[0] + ")"
                  : OPTION_OF_FIELD.getOrDefault(f[0], f[0]);
          err.println("fleet run: " + option + ": " + f[1]);
        }
        return 2;
      }
    }
    err.println("fleet run: " + e.getMessage());
    return e.status == 400 || e.status == 422 ? 2 : 1;
  }

  // --- the command line
  // ---------------------------------------------------------------------------

  static final String USAGE_LINE =
      "./fleet run \"PROMPT\" [--seed N] [--steps N] [--width W] [--height H] [--guidance G]"
          + " [--model NAME] [--lora NAME[:STRENGTH]]... [-o FILE] [--timeout SECONDS]";

  static String usage() {
    return CommandLines.usage(new RunOptions());
  }

  /**
   * Parses the command line; {@code --opt value} and {@code --opt=value} both work, {@code --} ends
   * the options.
   *
   * @throws UsageException naming the option at fault
   */
  static Args parse(String[] argv) {
    RunOptions o = new RunOptions();
    CommandLine line;
    try {
      line = CommandLines.parse(o, true, argv);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    Duration timeout =
        o.timeoutSeconds == null ? DEFAULT_TIMEOUT : Duration.ofSeconds(o.timeoutSeconds);
    Path root = o.root == null ? null : Path.of(o.root);
    Path modelDir = o.modelDir == null ? null : Path.of(o.modelDir);
    if (line.isUsageHelpRequested()) {
      return new Args(
          null, null, null, null, null, null, null, null, timeout, root, modelDir, true, null);
    }
    if (o.words.size() > 1) {
      throw new UsageException(
          "one prompt only, got \""
              + o.words.get(0)
              + "\" and \""
              + o.words.get(1)
              + "\" (quote the prompt: ./fleet run \"a red fox ...\")");
    }
    String prompt = o.prompt;
    if (!o.words.isEmpty()) {
      if (prompt != null) {
        throw new UsageException("--prompt: the prompt was given already");
      }
      prompt = o.words.get(0);
    }
    if (prompt == null) {
      throw new UsageException("the prompt is missing");
    }
    if (prompt.isBlank()) {
      throw new UsageException("the prompt is empty");
    }
    Path out = o.out == null ? null : outFile(outOption(line), o.out);
    List<Lora> loras = o.loras.stream().map(Lora::parse).toList();
    return new Args(
        prompt,
        o.seed,
        o.steps,
        o.width,
        o.height,
        o.guidance,
        o.model,
        out,
        timeout,
        root,
        modelDir,
        false,
        loras);
  }

  /** The name the output file was given under, {@code -o} or {@code --out}, for its messages. */
  private static String outOption(CommandLine line) {
    String name = "--out";
    for (String arg : line.getParseResult().originalArgs()) {
      if (arg.equals("--")) {
        break;
      }
      if (arg.equals("-o") || arg.startsWith("-o=")) {
        name = "-o";
      } else if (arg.equals("--out") || arg.startsWith("--out=")) {
        name = "--out";
      }
    }
    return name;
  }

  private static Path outFile(String option, String value) {
    Path p;
    try {
      p = Path.of(value);
    } catch (java.nio.file.InvalidPathException e) {
      throw new UsageException(option + ": not a file name: " + value);
    }
    Path abs = p.toAbsolutePath().normalize();
    if (Files.isDirectory(abs)) {
      throw new UsageException(option + ": " + value + " is a directory");
    }
    Path dir = abs.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new UsageException(option + ": directory " + dir + " does not exist");
    }
    return p;
  }
}
