package dev.fleet.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fleet.gateway.TestLoras;
import dev.fleet.stack.StackConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.openqa.selenium.By;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web console at {@code /} in a real browser: Debian's Chromium, headless, driven through its
 * chromium-driver by Selenium, against a whole {@link LocalFleet} (embedded Kafka, PostgreSQL and
 * S3 in this JVM; the gateway and a worker on the bundled tiny model as child processes), as {@link
 * FleetEndToEndIT} starts it.
 *
 * <p>The tests run in order on one fleet and one browser: the language (from the browser's, and
 * switched), a 422 for a bad size shown next to the field, a job generated with its progress to the
 * last step and its image at the job's size, a long job cancelled (after waiting in the queue), the
 * history after a reload, no horizontal scrolling at 390 px, LoRAs, and the fields of a model with
 * classifier-free guidance (NewBie-image: a negative prompt, a CFG scale and its truncation), which
 * a FLUX model neither shows nor sends. Screenshots of every test are kept in {@code
 * target/console-screenshots/}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserIT {
  private static final String MODEL_DIR = "gpu-worker/models/flux-tiny";
  private static final String WORKER_JAR = "gpu-worker/target/quarkus-app/quarkus-run.jar";
  private static final String GATEWAY_JAR = "api-gateway/target/quarkus-app/quarkus-run.jar";
  private static final String FOX = "a red fox sitting in the snow at dawn, highly detailed";
  private static final String LONG_JOB =
      "{\"prompt\":\"a job ahead\",\"seed\":7,\"steps\":50,\"width\":1024,\"height\":1024}";

  /**
   * The registry's NewBie-image model (application.properties): a model with classifier-free
   * guidance. No worker of this fleet serves it: its jobs are accepted (what these tests need: the
   * request as the job's view shows it), then the one worker, which serves flux-tiny on the memory
   * class these jobs are routed to, fails them with MODEL_UNAVAILABLE.
   */
  private static final String CFG_MODEL = "newbie";

  private static final String GIRL = "<character_1>a girl with a red umbrella</character_1>";
  private static final String NEGATIVE = "low quality, worst quality, blurry";
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int DESKTOP_WIDTH = 1280;
  private static final int DESKTOP_HEIGHT = 1000;
  private static final int PHONE_WIDTH = 390;
  private static final int PHONE_HEIGHT = 844;

  private Path work;
  private Path shots;
  private LocalFleet fleet;
  private FleetClient client;
  private ChromeDriver driver;
  private URI console;
  private String userAgent;
  private String foxJob;
  private long started;

  @BeforeAll
  @Timeout(value = 900, unit = TimeUnit.SECONDS)
  void startTheFleetAndTheBrowser() throws Exception {
    started = System.nanoTime();
    SystemChromium.ensureInstalled();
    Path module =
        Path.of(System.getProperty("fleet.it.basedir", System.getProperty("user.dir")))
            .toAbsolutePath()
            .normalize();
    Path root = module.getParent();
    for (String jar : List.of(WORKER_JAR, GATEWAY_JAR)) {
      if (!Files.isRegularFile(root.resolve(jar))) {
        fail(
            root.resolve(jar)
                + " is missing: ./mvnw -B verify builds both runner jars before this test (or"
                + " ./mvnw -B package -pl gpu-worker -am -DskipTests, then verify -pl api-gateway)");
      }
    }
    if (!System.getenv().getOrDefault("FLEET_WORKER_OPTS", "").contains("progress-interval=0")) {
      fail("FLEET_WORKER_OPTS is not set as api-gateway/pom.xml's failsafe configuration sets it");
    }
    Path target = module.resolve("target");
    shots = target.resolve("console-screenshots");
    Files.createDirectories(shots);
    work = Files.createTempDirectory(target, "console-it-");
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
    fleet.keepLogs();
    client = new FleetClient(fleet.gatewayUrl(), fleet.devKey());
    console = fleet.gatewayUrl().resolve("/");
    log("fleet up in %.1f s (logs in %s)", seconds(started), fleet.logDir());

    long t0 = System.nanoTime();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(SystemChromium.BROWSER.toFile());
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--hide-scrollbars",
        "--lang=en-US",
        "--window-size=" + DESKTOP_WIDTH + "," + DESKTOP_HEIGHT);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(SystemChromium.DRIVER.toFile())
            .usingAnyFreePort()
            .withLogFile(target.resolve("console-chromedriver.log").toFile())
            .build();
    driver = new ChromeDriver(service, options);
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    desktop();
    // As ./fleet up prints it: the development key in the fragment, kept by the console.
    driver.get(fleet.consoleUrl().toString());
    userAgent = (String) driver.executeScript("return navigator.userAgent");
    log("browser: %s, up in %.1f s", driver.getCapabilities().getBrowserVersion(), seconds(t0));
  }

  @AfterEach
  void screenshot(TestInfo info) {
    if (driver != null) {
      save(shot(false), "after-" + info.getTestMethod().orElseThrow().getName() + ".png");
    }
  }

  @AfterAll
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void stopEverything() throws IOException {
    try {
      if (driver != null) {
        driver.quit();
      }
    } finally {
      if (client != null) {
        client.close();
      }
      if (fleet != null) {
        fleet.close();
      }
      log("all tests and the fleet's stop took %.1f s", seconds(started));
    }
  }

  // --- the tests --------------------------------------------------------------------------------

  @Test
  @Order(0)
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void theKeyOfFleetUpsLinkIsKeptAndWithoutAKeyThePanelAsksForOne() {
    // Opened through the link ./fleet up prints: ready at once, the key out of the address bar.
    ready();
    assertFalse(driver.getCurrentUrl().contains("key="), driver.getCurrentUrl());
    assertEquals(
        fleet.devKey(), driver.executeScript("return localStorage.getItem('fleet.apiKey')"));
    assertFalse(driver.findElement(By.id("key-panel")).isDisplayed());

    // Without a key the gateway answers 401 and the console asks for one.
    driver.executeScript("localStorage.removeItem('fleet.apiKey')");
    driver.navigate().refresh();
    WebElement panel = driver.findElement(By.id("key-panel"));
    waitUntil(d -> panel.isDisplayed());
    driver.findElement(By.id("api-key")).sendKeys(fleet.devKey());
    driver.findElement(By.cssSelector("#key-form button[type=submit]")).click();
    ready();
    waitUntil(d -> !panel.isDisplayed());
    assertEquals(
        fleet.devKey(), driver.executeScript("return localStorage.getItem('fleet.apiKey')"));
  }

  @Test
  @Order(1)
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void theLanguageFollowsTheBrowserAndCanBeSwitched() {
    // A browser set to Chinese, nothing chosen before: Chinese.
    browserLanguage("zh-CN,zh");
    fresh();
    assertEquals("zh-CN", lang());
    assertTrue(prompt().getAccessibleName().contains("提示词"), prompt().getAccessibleName());
    assertTrue(generate().getAccessibleName().contains("生成"), generate().getAccessibleName());

    // Switched to English with the keyboard: every label follows.
    WebElement select = driver.findElement(By.id("lang"));
    new Select(select).selectByValue("en");
    waitUntil(d -> "en".equals(lang()));
    assertTrue(prompt().getAccessibleName().contains("Prompt"), prompt().getAccessibleName());
    assertTrue(generate().getAccessibleName().contains("Generate"), generate().getAccessibleName());
    assertEquals("Progress", driver.findElement(By.id("progress")).getAttribute("aria-label"));
    assertEquals("History", driver.findElement(By.id("history-h")).getText());

    // The choice survives a reload, whatever the browser says.
    driver.navigate().refresh();
    ready();
    assertEquals("en", lang());
    assertTrue(prompt().getAccessibleName().contains("Prompt"));

    // Back to Chinese, then a browser set to English with nothing chosen: English.
    new Select(driver.findElement(By.id("lang"))).selectByValue("zh-CN");
    waitUntil(d -> generate().getAccessibleName().contains("生成"));
    assertEquals("历史记录", driver.findElement(By.id("history-h")).getText());
    browserLanguage("en-US,en");
    fresh();
    assertEquals("en", lang());
    assertTrue(generate().getAccessibleName().contains("Generate"));
  }

  @Test
  @Order(2)
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aBadSizeGets422ShownNextToTheField() {
    fresh();
    prompt().sendKeys("a size the API refuses");
    WebElement width = driver.findElement(By.id("width"));
    width.clear();
    width.sendKeys("100");
    generate().click();
    WebElement error = driver.findElement(By.id("width-error"));
    waitUntil(d -> error.isDisplayed());
    // The API's own message (GenerationSpec's rule), next to the field that broke it.
    assertEquals("must be a multiple of 16, got 100 (nearest: 96)", error.getText());
    assertEquals("true", width.getAttribute("aria-invalid"));
    assertTrue(
        width.getAttribute("aria-describedby").contains("width-error"),
        "the message is the field's description");
    assertFalse(driver.findElement(By.id("height-error")).isDisplayed());
    assertTrue(driver.findElement(By.id("form-error")).isDisplayed());
    assertEquals(width, driver.switchTo().activeElement(), "focus moves to the field");
    assertTrue(driver.findElement(By.id("job")).getAttribute("hidden") != null, "no job started");

    // The model's own range, for a multiple of 16 beyond it.
    width.clear();
    width.sendKeys("2048");
    generate().click();
    waitUntil(d -> error.getText().contains("1024"));
    assertEquals("must be between 16 and 1024 for flux-tiny, got 2048", error.getText());
    save(shot(false), "desktop-422.png");
    // Changing the field clears its message.
    width.sendKeys(Keys.BACK_SPACE);
    waitUntil(d -> !error.isDisplayed());
    assertEquals(null, width.getAttribute("aria-invalid"));
  }

  @Test
  @Order(3)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aJobShowsItsProgressToTheEndAndItsImageAtItsSize() {
    fresh();
    // The tiny model's defaults: 128 x 96 (the 4:3 preset), 4 steps.
    assertEquals("128", driver.findElement(By.id("width")).getAttribute("value"));
    assertEquals("96", driver.findElement(By.id("height")).getAttribute("value"));
    assertTrue(driver.findElement(By.id("ratio-4-3")).isSelected(), "the 4:3 preset");
    assertEquals("4", driver.findElement(By.id("steps")).getAttribute("value"));
    prompt().sendKeys(FOX);
    WebElement seed = driver.findElement(By.id("seed"));
    seed.clear();
    seed.sendKeys("1234");
    recordProgress();
    // Ctrl+Enter in the prompt generates, as the hint says.
    prompt().sendKeys(Keys.chord(Keys.CONTROL, Keys.ENTER));

    WebElement image = awaitImage(FOX);
    assertEquals(128L, natural(image, "naturalWidth"));
    assertEquals(96L, natural(image, "naturalHeight"));
    WebElement bar = driver.findElement(By.id("progress"));
    assertEquals("4", bar.getAttribute("aria-valuemax"));
    assertEquals("4", bar.getAttribute("aria-valuenow"));
    @SuppressWarnings("unchecked")
    List<Object> seen = (List<Object>) driver.executeScript("return window.__progress");
    log("progress values the page showed: %s", seen);
    assertTrue(seen.contains("4"), "the progress bar reached step 4: " + seen);
    assertTrue(seen.stream().distinct().count() >= 2, "steps in between were shown: " + seen);
    assertEquals("1234", driver.findElement(By.id("used-seed")).getText());
    assertTrue(
        driver.findElement(By.id("job-status")).getText().contains("128 × 96"),
        driver.findElement(By.id("job-status")).getText());
    String download = driver.findElement(By.id("download")).getAttribute("href");
    assertTrue(download.contains("X-Amz-Signature="), "download from the presigned link");
    foxJob = (String) driver.executeScript("return localStorage.getItem('fleet.console.current')");
    save(shot(false), "desktop-result.png");

    // Again with a new seed: another job, another seed, shown.
    driver.findElement(By.id("again")).click();
    waitUntil(
        d ->
            !foxJob.equals(
                driver.executeScript("return localStorage.getItem('fleet.console.current')")));
    WebElement again = awaitImage(FOX);
    assertEquals(128L, natural(again, "naturalWidth"));
    String newSeed = driver.findElement(By.id("used-seed")).getText();
    assertNotEquals("1234", newSeed);
    assertTrue(newSeed.matches("\\d+"), newSeed);
    driver.findElement(By.id("reuse-seed")).click();
    assertEquals(newSeed, driver.findElement(By.id("seed")).getAttribute("value"));
  }

  @Test
  @Order(4)
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void aLongJobWaitsInTheQueueRunsAndIsCancelled() throws Exception {
    // A job of someone else's ahead, so that the console's job waits in the queue first.
    String ahead = submit(LONG_JOB);
    awaitJob(ahead, j -> j.path("status").asText().equals("RUNNING"));

    fresh();
    prompt().sendKeys("a long job to cancel");
    setNumber("width", "1024");
    setNumber("height", "1024");
    assertTrue(driver.findElement(By.id("ratio-1-1")).isSelected(), "1024 x 1024 is 1:1");
    setNumber("steps", "50");
    generate().click();
    WebElement status = driver.findElement(By.id("job-status"));
    waitUntil(d -> status.getText().matches("Queued: position \\d+ in line\\."));
    log("while queued: %s", status.getText());
    save(shot(false), "desktop-queued.png");

    assertEquals(202, delete(ahead));
    WebElement bar = driver.findElement(By.id("progress"));
    waitUntil(d -> Integer.parseInt(bar.getAttribute("aria-valuenow")) >= 3);
    assertEquals("50", bar.getAttribute("aria-valuemax"));
    assertTrue(status.getText().startsWith("Running · Step "), status.getText());
    String timing = driver.findElement(By.id("timing")).getText();
    assertTrue(timing.matches(".*s per step · about .* s left.*"), timing);
    save(shot(false), "desktop-running.png");

    driver.findElement(By.id("cancel")).click();
    waitUntil(d -> status.getText().startsWith("Cancelled at step"));
    int at = Integer.parseInt(bar.getAttribute("aria-valuenow"));
    assertTrue(at < 50, "cancelled before the end, at step " + at);
    assertFalse(driver.findElement(By.id("result")).isDisplayed(), "no image");
    assertFalse(driver.findElement(By.id("cancel")).isDisplayed(), "nothing left to cancel");
    log("%s", status.getText());
  }

  @Test
  @Order(5)
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void afterAReloadTheHistoryHasTheJobsAndReRunsOne() {
    driver.navigate().refresh();
    ready();
    WebElement fox = historyItem(foxJob);
    assertEquals("SUCCEEDED", fox.getAttribute("data-status"));
    assertTrue(fox.getText().contains(FOX), fox.getText());
    assertTrue(fox.getText().contains("Done"), fox.getText());
    WebElement thumb = fox.findElement(By.cssSelector(".thumb img"));
    waitUntil(d -> natural(thumb, "naturalWidth") == 128L);
    List<WebElement> items = driver.findElements(By.cssSelector("#history-list li"));
    assertTrue(items.size() >= 3, "the fox, its new seed and the cancelled job: " + items.size());
    assertEquals("CANCELLED", items.getFirst().getAttribute("data-status"), "newest first");
    assertTrue(items.getFirst().getText().contains("a long job to cancel"), "newest first");
    // The account's jobs include the one sent through the API; this browser's do not.
    assertTrue(historyText().contains("a job ahead"), "the account's jobs: " + historyText());
    new Select(driver.findElement(By.id("scope"))).selectByValue("mine");
    waitUntil(d -> !historyText().contains("a job ahead"));
    assertTrue(historyText().contains(FOX));
    new Select(driver.findElement(By.id("scope"))).selectByValue("all");
    waitUntil(d -> historyText().contains("a job ahead"));
    fox = historyItem(foxJob);
    // The last job is in the job panel again.
    waitUntil(d -> driver.findElement(By.id("job-status")).getText().startsWith("Cancelled"));

    // Re-run the fox: the same parameters, the same seed.
    fox.findElements(By.tagName("button")).stream()
        .filter(b -> b.getAccessibleName().equals("Re-run"))
        .findFirst()
        .orElseThrow()
        .click();
    waitUntil(
        d ->
            !foxJob.equals(
                driver.executeScript("return localStorage.getItem('fleet.console.current')")));
    WebElement image = awaitImage(FOX);
    assertEquals(96L, natural(image, "naturalHeight"));
    assertEquals("1234", driver.findElement(By.id("used-seed")).getText());
  }

  @Test
  @Order(6)
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void aPhoneWidthScrollsNoWhereSideways() {
    phone(PHONE_HEIGHT);
    try {
      for (String language : List.of("en", "zh-CN")) {
        fresh();
        new Select(driver.findElement(By.id("lang"))).selectByValue(language);
        waitUntil(d -> language.equals(lang()));
        // The fox's result, the history and the form, all at 390 px.
        prompt().sendKeys(FOX);
        historyItem(foxJob).findElements(By.tagName("button")).getFirst().click();
        awaitImage(FOX);
        driver.executeScript("window.scrollTo(0, 0)");
        assertEquals(PHONE_WIDTH, ((Number) driver.executeScript("return innerWidth")).intValue());
        long scroll =
            ((Number)
                    driver.executeScript(
                        "return Math.max(document.documentElement.scrollWidth,"
                            + " document.body.scrollWidth)"))
                .longValue();
        assertTrue(scroll <= PHONE_WIDTH, language + ": the page is " + scroll + " px wide");
        driver.executeScript("window.scrollTo(1000, 0)");
        assertEquals(0L, ((Number) driver.executeScript("return scrollX")).longValue());
        save(shot(true), "phone-" + language + ".png");
        driver.executeScript("document.getElementById('job').scrollIntoView()");
        save(shot(false), "phone-" + language + "-result.png");
      }
    } finally {
      desktop();
    }
    // And the desktop, in English, for the README.
    fresh();
    prompt().sendKeys(FOX);
    historyItem(foxJob).findElements(By.tagName("button")).getFirst().click();
    awaitImage(FOX);
    driver.executeScript("window.scrollTo(0, 0)");
    save(shot(false), "desktop-en.png");
  }

  @Test
  @Order(7)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aLoraIsPickedWithItsStrengthAndShownWithTheImage() throws Exception {
    Map<String, long[]> tensors =
        new LinkedHashMap<>(TestLoras.kohya("lora_unet_double_blocks_0_img_attn_qkv", 4, 64, 192));
    TestLoras.write(fleet.lorasDir().resolve("console-style.safetensors"), tensors, 5, 0.2f);
    desktop();
    fresh();
    WebElement box = driver.findElement(By.id("loras"));
    assertTrue(box.isDisplayed(), "the LoRA picker shows once there are LoRAs");
    WebElement pick = driver.findElement(By.id("lora-pick"));
    assertEquals("LoRA to add", pick.getAccessibleName());
    assertEquals("console-style", pick.getAttribute("value"));
    driver.findElement(By.id("lora-add")).click();
    WebElement strength = driver.findElement(By.id("lora-strength-0"));
    assertEquals("Strength of console-style", strength.getAccessibleName());
    assertEquals(strength, driver.switchTo().activeElement(), "focus goes to its strength");

    // A strength the API refuses: its message next to the picker.
    strength.clear();
    strength.sendKeys("3");
    prompt().sendKeys("a fox with a style");
    generate().click();
    WebElement error = driver.findElement(By.id("loras-error"));
    waitUntil(d -> error.isDisplayed());
    assertTrue(error.getText().contains("must be between -2 and 2"), error.getText());
    assertEquals("true", strength.getAttribute("aria-invalid"));

    strength.clear();
    strength.sendKeys("0.7");
    generate().click();
    awaitImage("a fox with a style");
    String params = driver.findElement(By.id("params")).getText();
    assertTrue(params.contains("console-style 0.7"), params);
    save(shot(false), "desktop-lora.png");

    new Select(driver.findElement(By.id("lang"))).selectByValue("zh-CN");
    assertEquals(
        "移除 console-style",
        driver.findElement(By.cssSelector("#lora-list button")).getAccessibleName());
    assertTrue(driver.findElement(By.id("params")).getText().contains("LoRA"));
    new Select(driver.findElement(By.id("lang"))).selectByValue("en");
  }

  @Test
  @Order(8)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aCfgModelShowsItsGuidanceFieldsAndAFluxModelHidesAndDoesNotSendThem() throws Exception {
    desktop();
    fresh();
    // The default model (flux-tiny): FLUX's distilled guidance, nothing else.
    assertFalse(negativePrompt().isDisplayed());
    assertFalse(cfgTruncation().isDisplayed());
    assertEquals("Guidance", guidance().getAccessibleName());

    // NewBie: the CFG fields, labelled, and its own defaults from GET /v1/models.
    model(CFG_MODEL);
    waitUntil(d -> negativePrompt().isDisplayed());
    assertTrue(cfgTruncation().isDisplayed());
    assertEquals("Negative prompt", negativePrompt().getAccessibleName());
    assertEquals("CFG truncation", cfgTruncation().getAccessibleName());
    assertEquals("CFG scale", guidance().getAccessibleName());
    assertEquals("28", value("steps"));
    assertEquals("5", value("guidance"));
    assertEquals("1024", value("width"));
    assertEquals("1024", value("height"));
    assertEquals("", value("cfgTruncation"), "empty: the model's own truncation");
    assertTrue(
        driver.findElement(By.id("guidance-hint")).getText().contains("Classifier-free"),
        driver.findElement(By.id("guidance-hint")).getText());

    // In Chinese, every one of them is labelled in Chinese.
    new Select(driver.findElement(By.id("lang"))).selectByValue("zh-CN");
    waitUntil(d -> "zh-CN".equals(lang()));
    assertEquals("反向提示词", negativePrompt().getAccessibleName());
    assertEquals("CFG 截断", cfgTruncation().getAccessibleName());
    assertEquals("CFG 引导系数", guidance().getAccessibleName());
    assertEquals("模型默认值", cfgTruncation().getAttribute("placeholder"));
    save(shot(false), "desktop-newbie-zh.png");
    new Select(driver.findElement(By.id("lang"))).selectByValue("en");
    waitUntil(d -> "en".equals(lang()));
    assertEquals("CFG scale", guidance().getAccessibleName());

    // Back to FLUX with a negative prompt typed: hidden, and not sent (the gateway would refuse
    // it).
    negativePrompt().sendKeys(NEGATIVE);
    setNumber("cfgTruncation", "0.5");
    model("flux-tiny");
    waitUntil(d -> !negativePrompt().isDisplayed());
    assertFalse(cfgTruncation().isDisplayed());
    assertEquals("Guidance", guidance().getAccessibleName());
    assertEquals("4", value("steps"));
    String before = currentJob();
    prompt().sendKeys(FOX);
    generate().click();
    waitUntil(d -> currentJob() != null && !currentJob().equals(before));
    JsonNode spec = client.job(currentJob()).path("spec");
    assertEquals("flux-tiny", spec.path("model").asText());
    assertFalse(spec.has("negativePrompt"), spec.toString());
    assertFalse(spec.has("cfgTruncation"), spec.toString());
    awaitImage(FOX);
    String params = driver.findElement(By.id("params")).getText();
    assertTrue(params.contains("Guidance"), params);
    assertFalse(params.contains("Negative prompt"), params);
    assertFalse(params.contains("CFG"), params);
  }

  @Test
  @Order(9)
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aNewbieJobCarriesItsNegativePromptAndTruncationAndShowsThem() throws Exception {
    fresh();
    model(CFG_MODEL);
    waitUntil(d -> negativePrompt().isDisplayed());
    prompt().sendKeys(GIRL);
    negativePrompt().sendKeys(NEGATIVE);
    setNumber("width", "512");
    setNumber("height", "512");

    // A truncation the API refuses: its message next to the field.
    setNumber("cfgTruncation", "2");
    generate().click();
    WebElement error = driver.findElement(By.id("cfgTruncation-error"));
    waitUntil(d -> error.isDisplayed());
    assertEquals("must be between 0 and 1, got 2.0", error.getText());
    assertEquals("true", cfgTruncation().getAttribute("aria-invalid"));
    assertTrue(cfgTruncation().getAttribute("aria-describedby").contains("cfgTruncation-error"));
    assertEquals(cfgTruncation(), driver.switchTo().activeElement(), "focus moves to the field");
    assertTrue(driver.findElement(By.id("job")).getAttribute("hidden") != null, "no job started");

    setNumber("cfgTruncation", "0.8");
    waitUntil(d -> !error.isDisplayed());
    generate().click();
    waitUntil(d -> currentJob() != null);
    String id = currentJob();
    // The request carried both fields: the job's view has them, with the model's defaults.
    JsonNode job = client.job(id);
    JsonNode spec = job.path("spec");
    assertEquals(CFG_MODEL, spec.path("model").asText());
    assertEquals(NEGATIVE, spec.path("negativePrompt").asText());
    assertEquals(0.8, spec.path("cfgTruncation").asDouble());
    assertEquals(5.0, spec.path("guidance").asDouble());
    assertEquals(28, spec.path("steps").asInt());
    assertEquals(512, spec.path("width").asInt());
    log("the NewBie job %s: %s", id, job.path("status").asText());

    // The job panel shows what it asked for while it waits; the history shows its negative prompt.
    WebElement params = driver.findElement(By.id("params"));
    waitUntil(d -> params.getText().contains(NEGATIVE));
    String shown = params.getText();
    assertTrue(shown.contains("Negative prompt\n" + NEGATIVE), shown);
    assertTrue(shown.contains("CFG scale\n5"), shown);
    assertTrue(shown.contains("CFG truncation\n0.8"), shown);
    assertFalse(shown.contains("Guidance"), shown);
    WebElement item = historyItem(id);
    assertEquals(
        "Negative prompt: " + NEGATIVE, item.findElement(By.className("negative")).getText());
    save(shot(false), "desktop-newbie.png");
    new Select(driver.findElement(By.id("lang"))).selectByValue("zh-CN");
    waitUntil(
        d ->
            historyItem(id)
                .findElement(By.className("negative"))
                .getText()
                .equals("反向提示词：" + NEGATIVE));
    assertTrue(params.getText().contains("CFG 截断"), params.getText());
    new Select(driver.findElement(By.id("lang"))).selectByValue("en");

    // Re-run from the history, with a FLUX model selected: the NewBie fields come back, filled.
    model("flux-tiny");
    waitUntil(d -> !negativePrompt().isDisplayed());
    historyItem(id).findElements(By.tagName("button")).stream()
        .filter(b -> b.getAccessibleName().equals("Re-run"))
        .findFirst()
        .orElseThrow()
        .click();
    waitUntil(d -> currentJob() != null && !currentJob().equals(id));
    assertTrue(negativePrompt().isDisplayed());
    assertEquals(NEGATIVE, negativePrompt().getAttribute("value"));
    assertEquals("0.8", value("cfgTruncation"));
    JsonNode again = client.job(currentJob()).path("spec");
    assertEquals(CFG_MODEL, again.path("model").asText());
    assertEquals(NEGATIVE, again.path("negativePrompt").asText());
    assertEquals(0.8, again.path("cfgTruncation").asDouble());
    assertEquals(spec.path("seed").asLong(), again.path("seed").asLong(), "the same seed");
  }

  // --- the page ---------------------------------------------------------------------------------

  private WebElement negativePrompt() {
    return driver.findElement(By.id("negativePrompt"));
  }

  private WebElement cfgTruncation() {
    return driver.findElement(By.id("cfgTruncation"));
  }

  private WebElement guidance() {
    return driver.findElement(By.id("guidance"));
  }

  private void model(String name) {
    new Select(driver.findElement(By.id("model"))).selectByValue(name);
  }

  private String value(String id) {
    return driver.findElement(By.id(id)).getAttribute("value");
  }

  /** The job the console shows (and follows), or null before it sends one. */
  private String currentJob() {
    return (String) driver.executeScript("return localStorage.getItem('fleet.console.current')");
  }

  private WebElement prompt() {
    return driver.findElement(By.id("prompt"));
  }

  private WebElement generate() {
    return driver.findElement(By.id("generate-btn"));
  }

  private String lang() {
    return (String) driver.executeScript("return document.documentElement.lang");
  }

  /** The console as a first visit with the browser's language would find it (history kept). */
  /**
   * The console as a first visit finds it (no chosen language, no job being followed). The storage
   * is cleared from a page of the same origin that runs no console script: cleared under a loaded
   * console, a job read it was still restoring could store itself as current again before the
   * reload.
   */
  private void fresh() {
    driver.get(console.resolve("/q/health/live").toString());
    driver.executeScript(
        "localStorage.removeItem('fleet.console.lang');"
            + "localStorage.removeItem('fleet.console.current');");
    driver.get(console.toString());
    ready();
  }

  private void ready() {
    waitUntil(d -> "true".equals(driver.executeScript("return document.body.dataset.ready")));
  }

  /** The language the browser reports (navigator.language), through the DevTools protocol. */
  private void browserLanguage(String acceptLanguage) {
    driver.executeCdpCommand(
        "Emulation.setUserAgentOverride",
        Map.of("userAgent", userAgent, "acceptLanguage", acceptLanguage));
  }

  private void setNumber(String id, String value) {
    WebElement input = driver.findElement(By.id(id));
    input.clear();
    input.sendKeys(value);
  }

  /** Every aria-valuenow the progress bar takes from now on, in window.__progress. */
  private void recordProgress() {
    driver.executeScript(
        "window.__progress = [];"
            + "const bar = document.getElementById('progress');"
            + "new MutationObserver(() => window.__progress.push(bar.getAttribute('aria-valuenow')))"
            + ".observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});");
  }

  /** The result image of that prompt (its alt is the prompt exactly), loaded. */
  private WebElement awaitImage(String prompt) {
    WebElement image = driver.findElement(By.id("result-img"));
    waitUntil(
        d ->
            image.isDisplayed()
                && prompt.equals(image.getAccessibleName())
                && prompt.equals(image.getAttribute("alt"))
                && Boolean.TRUE.equals(
                    driver.executeScript(
                        "return arguments[0].complete && arguments[0].naturalWidth > 0", image)));
    return image;
  }

  private long natural(WebElement image, String property) {
    return ((Number) driver.executeScript("return arguments[0]." + property, image)).longValue();
  }

  private String historyText() {
    return driver.findElement(By.id("history-list")).getText();
  }

  private WebElement historyItem(String id) {
    By by = By.cssSelector("#history-list li[data-id='" + id + "']");
    waitUntil(d -> !driver.findElements(by).isEmpty());
    return driver.findElement(by);
  }

  private void waitUntil(Function<org.openqa.selenium.WebDriver, Boolean> condition) {
    new WebDriverWait(driver, WAIT, Duration.ofMillis(50)).until(condition);
  }

  private void desktop() {
    driver.executeCdpCommand(
        "Emulation.setDeviceMetricsOverride",
        Map.of(
            "width",
            DESKTOP_WIDTH,
            "height",
            DESKTOP_HEIGHT,
            "deviceScaleFactor",
            1,
            "mobile",
            false));
  }

  private void phone(int height) {
    driver.executeCdpCommand(
        "Emulation.setDeviceMetricsOverride",
        Map.of("width", PHONE_WIDTH, "height", height, "deviceScaleFactor", 2, "mobile", true));
  }

  /** A PNG of the viewport, or of the whole page (as tall as it is). */
  private byte[] shot(boolean fullPage) {
    Map<String, Object> result =
        driver.executeCdpCommand(
            "Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", fullPage));
    return Base64.getDecoder().decode((String) result.get("data"));
  }

  private void save(byte[] png, String name) {
    try {
      Files.write(shots.resolve(name), png);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  // --- the API, for the job ahead -------------------------------------------------------------

  private String submit(String json) throws IOException {
    JsonNode job = client.submit((ObjectNode) FleetClient.JSON.readTree(json));
    return job.path("id").asText();
  }

  private void awaitJob(String id, java.util.function.Predicate<JsonNode> until)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    JsonNode job = client.job(id);
    while (!until.test(job)) {
      if (System.nanoTime() > deadline) {
        fail("job " + id + " did not get there: " + job);
      }
      Thread.sleep(50);
      job = client.job(id);
    }
  }

  private int delete(String id) throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      return http.send(
              HttpRequest.newBuilder(fleet.gatewayUrl().resolve("/v1/jobs/" + id))
                  .timeout(Duration.ofSeconds(30))
                  .header("Authorization", "Bearer " + fleet.devKey())
                  .DELETE()
                  .build(),
              HttpResponse.BodyHandlers.discarding())
          .statusCode();
    }
  }

  private static double seconds(long startNanos) {
    return (System.nanoTime() - startNanos) / 1e9;
  }

  private static void log(String format, Object... args) {
    System.out.println("ConsoleBrowserIT: " + String.format(Locale.ROOT, format, args));
    System.out.flush();
  }
}
