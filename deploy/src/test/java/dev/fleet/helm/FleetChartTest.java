package dev.fleet.helm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.marcnuri.helm.DryRun;
import com.marcnuri.helm.Helm;
import com.marcnuri.helm.InstallCommand;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Helm chart in {@code helm/fleet}, through Helm itself (helm-java runs Helm as a native
 * library in this JVM, no binary and no cluster): it lints strictly with its defaults and every
 * {@code ci/} scenario, renders one worker Deployment and ScaledObject per pool wired to that
 * pool's topic and consumer group, and refuses bad values with a message naming the value.
 */
class FleetChartTest {

  static final Path CHART = Path.of("..", "helm", "fleet").toAbsolutePath().normalize();
  static final List<String> CLASSES = List.of("vram-8g", "vram-12g", "vram-16g");
  static final String RELEASE = "fleet";
  // helm-java's Helm assumes Kubernetes 1.20 unless told; the chart asks for 1.25 or later.
  static final String KUBE_VERSION = "1.33.0";
  static final KubernetesSerialization KUBE = new KubernetesSerialization();

  @Test
  void lintsStrictlyWithItsDefaults() {
    LintResult lint = new Helm(CHART).lint().strict().call();

    assertFalse(lint.isFailed(), () -> "helm lint --strict: " + lint.getMessages());
  }

  /**
   * {@code helm lint --strict -f ci/X.yaml}, as chart-testing runs it. helm-java's lint takes no
   * values file, so the scenario is merged into a copy of the chart's values.yaml the way Helm
   * merges values (maps key by key, anything else replaced, null deletes). Helm lints with {@code
   * fail} and {@code required} turned into log lines, so the scenario is also rendered, where they
   * do fail.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("ciScenarios")
  void lintsStrictlyWithEveryCiScenario(String scenario, @TempDir Path tmp) throws IOException {
    Path copy = ChartFiles.copyWithValues(CHART, CHART.resolve("ci").resolve(scenario), tmp);

    LintResult lint = new Helm(copy).lint().strict().call();

    assertFalse(
        lint.isFailed(), () -> "helm lint --strict -f ci/" + scenario + ": " + lint.getMessages());
    assertFalse(
        render(template().withValuesFile(CHART.resolve("ci").resolve(scenario))).isEmpty(),
        scenario + " renders nothing");
  }

  static Stream<String> ciScenarios() throws IOException {
    try (Stream<Path> files = Files.list(CHART.resolve("ci"))) {
      List<String> names =
          files
              .map(p -> p.getFileName().toString())
              .filter(n -> n.endsWith(".yaml"))
              .sorted()
              .toList();
      assertTrue(
          names.containsAll(
              List.of(
                  "default-values.yaml",
                  "keda-off-values.yaml",
                  "three-pools-values.yaml",
                  "two-models-values.yaml")),
          "ci/ scenarios: " + names);
      return names.stream();
    }
  }

  /**
   * Writes {@code helm template} of every {@code ci/} scenario to {@code
   * deploy/target/helm-rendered/<scenario>.yaml}, for the schema validation that .ci/run runs next
   * ({@code helm/fleet-schema/validate.sh}: Kubernetes 1.33's and KEDA's schemas).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("ciScenarios")
  void rendersEveryCiScenarioForSchemaValidation(String scenario) throws IOException {
    String manifests = template().withValuesFile(CHART.resolve("ci").resolve(scenario)).call();
    Path out = Path.of("target", "helm-rendered", scenario);
    Files.createDirectories(out.getParent());
    Files.writeString(out, manifests);
    List<HasMetadata> objects =
        render(template().withValuesFile(CHART.resolve("ci").resolve(scenario)));
    assertFalse(objects.isEmpty());
    // The JSON schemas accept unknown fields; fabric8's typed models keep them aside, so a
    // misspelt field of a built-in kind is caught here.
    for (HasMetadata o : objects) {
      if (!(o instanceof GenericKubernetesResource)) {
        List<String> unknown = new ArrayList<>();
        unknownFields(o, o.getKind() + "/" + o.getMetadata().getName(), unknown);
        assertEquals(List.of(), unknown, scenario + ": fields Kubernetes does not know");
      }
    }
  }

  @Test
  void unknownFieldsAreFound() {
    HasMetadata service =
        KUBE.unmarshal(
            "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
                + "spec: {ports: [{port: 80, targetPrt: 8080}], typo: 1}\n",
            HasMetadata.class);
    List<String> unknown = new ArrayList<>();
    unknownFields(service, "Service/x", unknown);
    assertEquals(
        List.of("Service/x.Spec.Ports[0].targetPrt", "Service/x.Spec.typo"),
        unknown.stream().sorted().toList());
  }

  /** Collects the paths of fields that fabric8's model of a Kubernetes kind does not know. */
  static void unknownFields(Object node, String path, List<String> out) {
    if (node == null) {
      return;
    }
    if (node instanceof List<?> list) {
      for (int i = 0; i < list.size(); i++) {
        unknownFields(list.get(i), path + "[" + i + "]", out);
      }
      return;
    }
    if (node instanceof Map<?, ?> map) {
      map.forEach((k, v) -> unknownFields(v, path + "." + k, out));
      return;
    }
    if (!node.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return;
    }
    for (java.lang.reflect.Method m : node.getClass().getMethods()) {
      if (m.getParameterCount() != 0
          || !m.getName().startsWith("get")
          || m.getDeclaringClass() == Object.class) {
        continue;
      }
      Object value;
      try {
        value = m.invoke(node);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(path + "." + m.getName(), e);
      }
      if (m.getName().equals("getAdditionalProperties")) {
        if (value instanceof Map<?, ?> extra && !extra.isEmpty()) {
          extra.keySet().forEach(k -> out.add(path + "." + k));
        }
      } else {
        unknownFields(value, path + "." + m.getName().substring(3), out);
      }
    }
  }

  /**
   * The chart deploys what deploy/images/build.sh builds: the repositories of images.env, tagged
   * with the chart's appVersion (= the project's version without -SNAPSHOT) and, for the worker,
   * the flavour (cu128 on GPUs, cpu otherwise).
   */
  @Test
  void namesTheImagesTheBuildProduces() throws IOException {
    java.util.Properties images = new java.util.Properties();
    try (var in = Files.newBufferedReader(Path.of("images", "images.env"))) {
      images.load(in);
    }
    String pomVersion =
        Files.readString(Path.of("..", "pom.xml"))
            .replaceAll("(?s).*?\\n  <version>([^<]+)</version>.*", "$1");
    String version = pomVersion.replace("-SNAPSHOT", "");
    String chart = Files.readString(CHART.resolve("Chart.yaml"));
    assertTrue(
        chart.contains("\nappVersion: \"" + version + "\"\n"),
        "Chart.yaml's appVersion must be the build's version " + version);

    List<HasMetadata> gpu = render(template());
    assertEquals(
        images.getProperty("GATEWAY_REPOSITORY") + ":" + version,
        container(one(gpu, Deployment.class, "fleet-gateway")).getImage());
    assertEquals(
        images.getProperty("WORKER_REPOSITORY")
            + ":"
            + version
            + "-"
            + images.getProperty("WORKER_CUDA_FLAVOR"),
        container(one(gpu, Deployment.class, "fleet-worker-vram-8g")).getImage());
    List<HasMetadata> cpu = render(template().set("workers.device", "cpu"));
    Container worker = container(one(cpu, Deployment.class, "fleet-worker-vram-8g"));
    assertEquals(
        images.getProperty("WORKER_REPOSITORY")
            + ":"
            + version
            + "-"
            + images.getProperty("WORKER_CPU_FLAVOR"),
        worker.getImage());
    // The images run as this user; the chart's pods ask for the same one.
    long uid = Long.parseLong(images.getProperty("IMAGE_UID"));
    assertEquals(
        uid,
        one(cpu, Deployment.class, "fleet-worker-vram-8g")
            .getSpec()
            .getTemplate()
            .getSpec()
            .getSecurityContext()
            .getRunAsUser());
    assertEquals(
        uid,
        one(cpu, Deployment.class, "fleet-gateway")
            .getSpec()
            .getTemplate()
            .getSpec()
            .getSecurityContext()
            .getRunAsUser());
  }

  @Test
  void defaultsRenderTheGatewayAndOneWorkerAndScaledObjectPerClass() {
    List<HasMetadata> objects = render(template());

    Deployment gateway = one(objects, Deployment.class, "fleet-gateway");
    Service service = one(objects, Service.class, "fleet-gateway");
    assertNotNull(one(objects, ConfigMap.class, "fleet-gateway"));
    assertEquals(2, gateway.getSpec().getReplicas());
    assertEquals(gateway.getSpec().getSelector().getMatchLabels(), service.getSpec().getSelector());
    assertEquals(8080, service.getSpec().getPorts().get(0).getPort());

    List<String> workers = names(objects, Deployment.class, "fleet-worker-");
    List<String> scaled = names(objects, GenericKubernetesResource.class, "fleet-worker-");
    List<String> expected = CLASSES.stream().map(c -> "fleet-worker-" + c).sorted().toList();
    assertEquals(expected, workers);
    assertEquals(expected, scaled);
    for (HasMetadata o : objects) {
      if (o instanceof GenericKubernetesResource g) {
        assertEquals("ScaledObject", g.getKind());
        assertEquals("keda.sh/v1alpha1", g.getApiVersion());
      }
    }
  }

  @Test
  void gatewayHasProbesConfigAndARestrictedSecurityContext() {
    List<HasMetadata> objects = render(template());
    Deployment gateway = one(objects, Deployment.class, "fleet-gateway");
    Container c = container(gateway);

    assertEquals("fleet/api-gateway:0.1.0", c.getImage());
    assertEquals("/q/health/live", c.getLivenessProbe().getHttpGet().getPath());
    assertEquals("/q/health/ready", c.getReadinessProbe().getHttpGet().getPath());
    assertEquals(8080, c.getPorts().get(0).getContainerPort());
    assertTrue(gateway.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot());
    assertTrue(c.getSecurityContext().getReadOnlyRootFilesystem());
    assertFalse(c.getSecurityContext().getAllowPrivilegeEscalation());
    assertEquals("kafka:9092", env(c, "KAFKA_BOOTSTRAP_SERVERS").getValue());
    assertEquals(
        "jdbc:postgresql://postgresql:5432/fleet",
        env(c, "QUARKUS_DATASOURCE_JDBC_URL").getValue());
    assertEquals("http://minio:9000", env(c, "FLEET_S3_ENDPOINT").getValue());
    EnvVar password = env(c, "QUARKUS_DATASOURCE_PASSWORD");
    assertEquals("fleet-postgresql", password.getValueFrom().getSecretKeyRef().getName());
    assertEquals("password", password.getValueFrom().getSecretKeyRef().getKey());
    assertEquals(
        "fleet-s3", env(c, "FLEET_S3_SECRET_KEY").getValueFrom().getSecretKeyRef().getName());

    // The model registry reaches Quarkus as a properties file that the pod mounts and names.
    String properties =
        one(objects, ConfigMap.class, "fleet-gateway").getData().get("application.properties");
    assertTrue(properties.contains("fleet.default-model=flux-dev\n"), properties);
    assertTrue(properties.contains("fleet.models.flux-dev.default-steps=28\n"), properties);
    assertTrue(properties.contains("fleet.models.flux-dev.default-guidance=3.5\n"), properties);
    assertTrue(properties.contains("fleet.jobs.lease-expiry=60s\n"), properties);
    assertFalse(properties.contains("fleet.webhooks.allow"), properties);
    assertTrue(
        c.getEnv().stream().noneMatch(e -> e.getName().equals("FLEET_WEBHOOK_SECRET")),
        "no webhook secret unless one is named");
    assertEquals(
        "/etc/fleet/application.properties", env(c, "QUARKUS_CONFIG_LOCATIONS").getValue());
    assertTrue(
        c.getVolumeMounts().stream().anyMatch(m -> m.getMountPath().equals("/etc/fleet")),
        "config mounted at /etc/fleet");
  }

  @Test
  void webhooksGetTheirSigningKeyFromASecretAndTheOperatorsAllowList() {
    List<HasMetadata> objects =
        render(
            template()
                .set("gateway.webhooks.existingSecret", "fleet-webhooks")
                .set("gateway.webhooks.allow[0]", "hooks.internal")
                .set("gateway.webhooks.allow[1]", "10.20.0.0/16"));
    Container c = container(one(objects, Deployment.class, "fleet-gateway"));
    EnvVar secret = env(c, "FLEET_WEBHOOK_SECRET");
    assertEquals("fleet-webhooks", secret.getValueFrom().getSecretKeyRef().getName());
    assertEquals("webhook-secret", secret.getValueFrom().getSecretKeyRef().getKey());
    String properties =
        one(objects, ConfigMap.class, "fleet-gateway").getData().get("application.properties");
    assertTrue(
        properties.contains("fleet.webhooks.allow=hooks.internal,10.20.0.0/16\n"), properties);
  }

  @Test
  void theVram12gWorkerServesItsClassOnOneGpu() {
    Deployment worker = one(render(template()), Deployment.class, "fleet-worker-vram-12g");
    Container c = container(worker);

    assertEquals("vram-12g", env(c, "FLEET_WORKER_MEMORY_CLASS").getValue());
    assertEquals("flux-dev", env(c, "FLEET_WORKER_MODEL_NAME").getValue());
    assertEquals("/models/FLUX.1-dev", env(c, "FLEET_WORKER_MODEL_DIR").getValue());
    assertEquals("gpu", env(c, "FLEET_WORKER_DEVICE").getValue());
    assertEquals("kafka:9092", env(c, "KAFKA_BOOTSTRAP_SERVERS").getValue());
    // Graceful drain: the pod's grace period outlasts the worker's drain deadline with a margin.
    assertEquals("90s", env(c, "FLEET_WORKER_DRAIN_TIMEOUT").getValue());
    assertEquals(
        "3", env(c, "FLEET_JOBS_MAX_ATTEMPTS").getValue(), "the retry limit reaches workers");
    assertTrue(
        worker.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds() >= 90 + 15);
    assertEquals(new Quantity("1"), c.getResources().getLimits().get("nvidia.com/gpu"));
    assertEquals("fleet/gpu-worker:0.1.0-cu128", c.getImage());
    assertEquals(8081, c.getPorts().get(0).getContainerPort());
    assertEquals("/q/health/live", c.getLivenessProbe().getHttpGet().getPath());
    assertEquals("/q/health/ready", c.getReadinessProbe().getHttpGet().getPath());
    assertTrue(c.getSecurityContext().getReadOnlyRootFilesystem());
    // KEDA owns the replica count: a fixed one would fight it on every upgrade.
    assertNull(worker.getSpec().getReplicas());
    assertEquals(
        "fleet-models", volume(worker, "models").getPersistentVolumeClaim().getClaimName());
    assertEquals("vram-12g", worker.getSpec().getSelector().getMatchLabels().get("fleet.dev/pool"));
    assertEquals(
        "vram-12g",
        worker.getSpec().getTemplate().getMetadata().getLabels().get("fleet.dev/memory-class"));
  }

  @Test
  void twoModelsOnOneClassAreTwoPoolsWithTheirOwnTopicsAndPods() {
    List<HasMetadata> objects =
        render(template().withValuesFile(CHART.resolve("ci").resolve("two-models-values.yaml")));
    Deployment flux = one(objects, Deployment.class, "fleet-worker-vram-16g");
    Deployment newbie = one(objects, Deployment.class, "fleet-worker-newbie-16g");
    assertEquals("vram-16g", env(container(newbie), "FLEET_WORKER_MEMORY_CLASS").getValue());
    assertEquals("newbie", env(container(newbie), "FLEET_WORKER_MODEL_NAME").getValue());
    // Neither Deployment selects the other's pods.
    assertEquals(
        "newbie-16g", newbie.getSpec().getSelector().getMatchLabels().get("fleet.dev/pool"));
    assertEquals("vram-16g", flux.getSpec().getSelector().getMatchLabels().get("fleet.dev/pool"));
    Map<String, Object> newbieLag =
        one(objects, GenericKubernetesResource.class, "fleet-worker-newbie-16g")
            .get("spec", "triggers", 0, "metadata");
    assertEquals("vram-16g.newbie", newbieLag.get("topic"));
    assertEquals("fleet-workers-vram-16g.newbie", newbieLag.get("consumerGroup"));
    Map<String, Object> fluxLag =
        one(objects, GenericKubernetesResource.class, "fleet-worker-vram-16g")
            .get("spec", "triggers", 0, "metadata");
    assertEquals("vram-16g.flux-dev", fluxLag.get("topic"));
  }

  @Test
  void theVram12gScaledObjectWatchesItsTopicAndConsumerGroup() {
    GenericKubernetesResource so =
        one(
            render(template().set("workers.pools.vram-12g.maxReplicas", 6)),
            GenericKubernetesResource.class,
            "fleet-worker-vram-12g");

    assertEquals("fleet-worker-vram-12g", so.get("spec", "scaleTargetRef", "name"));
    assertEquals(6, ((Number) so.get("spec", "maxReplicaCount")).intValue());
    assertEquals(0, ((Number) so.get("spec", "minReplicaCount")).intValue());
    assertEquals(1, so.<List<?>>get("spec", "triggers").size());
    assertEquals("kafka", so.get("spec", "triggers", 0, "type"));
    Map<String, Object> kafka = so.get("spec", "triggers", 0, "metadata");
    // The jobs of class vram-12g for the pool's model (MemoryClass.topic), in their own group.
    assertEquals("vram-12g.flux-dev", kafka.get("topic"));
    assertEquals("fleet-workers-vram-12g.flux-dev", kafka.get("consumerGroup"));
    assertEquals("kafka:9092", kafka.get("bootstrapServers"));
    assertEquals("2", kafka.get("lagThreshold"));
    assertEquals("earliest", kafka.get("offsetResetPolicy"));
  }

  @Test
  void kedaOffRendersNoScaledObjectAndFixedReplicas() {
    List<HasMetadata> objects =
        render(
            template()
                .set("keda.enabled", false)
                .set("workers.pools.vram-8g.replicas", 3)
                .set("workers.pools.vram-16g.enabled", false));

    assertTrue(
        objects.stream().noneMatch(o -> o.getKind().equals("ScaledObject")),
        "no ScaledObject with keda.enabled=false");
    assertEquals(
        List.of("fleet-worker-vram-12g", "fleet-worker-vram-8g"),
        names(objects, Deployment.class, "fleet-worker-"));
    assertEquals(3, one(objects, Deployment.class, "fleet-worker-vram-8g").getSpec().getReplicas());
  }

  @Test
  void aLoraVolumeIsMountedIntoTheGatewayAndEveryWorkerOnlyWhenConfigured() {
    List<HasMetadata> objects = render(template().set("loras.existingClaim", "fleet-loras"));
    List<Deployment> deployments =
        objects.stream().filter(Deployment.class::isInstance).map(Deployment.class::cast).toList();
    assertTrue(deployments.size() >= 2, "the gateway and a worker pool");
    for (Deployment d : deployments) {
      String name = d.getMetadata().getName();
      assertEquals(
          "fleet-loras", volume(d, "loras").getPersistentVolumeClaim().getClaimName(), name);
      assertTrue(
          container(d).getVolumeMounts().stream()
              .anyMatch(m -> m.getName().equals("loras") && m.getMountPath().equals("/loras")),
          name);
      String envName = name.equals("fleet-gateway") ? "FLEET_LORAS_DIR" : "FLEET_WORKER_LORAS_DIR";
      assertEquals("/loras", env(container(d), envName).getValue(), name);
    }
    for (HasMetadata o : render(template())) {
      if (o instanceof Deployment d) {
        assertTrue(
            d.getSpec().getTemplate().getSpec().getVolumes().stream()
                .noneMatch(v -> v.getName().equals("loras")),
            d.getMetadata().getName());
      }
    }
  }

  @Test
  void threePoolsScenarioKeepsEachPoolsSettings() {
    List<HasMetadata> objects =
        render(template().withValuesFile(CHART.resolve("ci").resolve("three-pools-values.yaml")));

    Container small = container(one(objects, Deployment.class, "fleet-worker-vram-8g"));
    assertEquals("7680MiB", env(small, "FLEET_WORKER_BUDGET").getValue());
    Deployment large = one(objects, Deployment.class, "fleet-worker-vram-16g");
    assertEquals("majicflus", env(container(large), "FLEET_WORKER_MODEL_NAME").getValue());
    assertEquals(
        "majicflus_v134.safetensors", env(container(large), "FLEET_WORKER_DIT").getValue());
    assertEquals(
        "NVIDIA-GeForce-RTX-4080",
        large.getSpec().getTemplate().getSpec().getNodeSelector().get("nvidia.com/gpu.product"));
    assertEquals(
        "/var/lib/fleet/models",
        volume(one(objects, Deployment.class, "fleet-worker-vram-8g"), "models")
            .getHostPath()
            .getPath());
    GenericKubernetesResource mid =
        one(objects, GenericKubernetesResource.class, "fleet-worker-vram-12g");
    assertEquals(1, ((Number) mid.get("spec", "minReplicaCount")).intValue());
    assertEquals("3", mid.get("spec", "triggers", 0, "metadata", "lagThreshold"));
    assertEquals(
        "1",
        one(objects, GenericKubernetesResource.class, "fleet-worker-vram-8g")
            .get("spec", "triggers", 0, "metadata", "lagThreshold"));
  }

  /**
   * helm-java's template returns the release manifest without its hooks, and the test pod is a
   * hook; in a copy of the chart whose test pod carries the hook annotation under another name it
   * renders as a plain manifest.
   */
  @Test
  void theTestPodCallsTheGatewaysReadiness(@TempDir Path tmp) throws IOException {
    Path testPod = Path.of("templates", "tests", "test-health.yaml");
    String source = Files.readString(CHART.resolve(testPod));
    assertTrue(source.contains("helm.sh/hook: test"), "the test pod is a test hook");
    Path copy = ChartFiles.copy(CHART, tmp);
    Files.writeString(copy.resolve(testPod), source.replace("helm.sh/hook:", "unhooked/hook:"));

    Pod test = one(render(template(copy)), Pod.class, "fleet-test-health");

    assertEquals("test", test.getMetadata().getAnnotations().get("unhooked/hook"));
    Container curl = test.getSpec().getContainers().get(0);
    assertEquals(List.of("curl"), curl.getCommand());
    assertTrue(
        curl.getArgs().contains("http://fleet-gateway:8080/q/health/ready"),
        () -> "args: " + curl.getArgs());
    assertEquals("Never", test.getSpec().getRestartPolicy());
  }

  /** NOTES.txt, as a client-only dry-run install prints it (no cluster needed). */
  @Test
  void notesTellTheUserWhatToRunNext() {
    String notes = install().call().getOutput();

    assertTrue(
        notes.contains("kubectl -n fleet port-forward service/fleet-gateway 8080:8080"), notes);
    assertTrue(notes.contains("curl -s http://localhost:8080/q/health/ready"), notes);
    assertTrue(notes.contains("curl -s -XPOST http://localhost:8080/v1/jobs"), notes);
    assertTrue(notes.contains("helm test fleet -n fleet"), notes);
    assertTrue(
        notes.contains(
            "vram-12g: topic vram-12g.flux-dev, group fleet-workers-vram-12g.flux-dev, KEDA 0..4"
                + " replicas"),
        notes);
    assertTrue(notes.contains("at least 8 partitions"), notes);

    String kedaOff = install().set("keda.enabled", false).call().getOutput();
    assertTrue(kedaOff.contains("KEDA is off"), kedaOff);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badValues")
  void badValuesFailWithAMessageNamingThem(String what, Map<String, Object> set, String message) {
    TemplateCommand command = template();
    set.forEach(command::set);

    Exception e = assertThrows(Exception.class, command::call, what);

    assertTrue(
        e.getMessage() != null && e.getMessage().contains(message),
        () -> what + ": expected a message containing <" + message + ">, got: " + e.getMessage());
  }

  static Stream<Arguments> badValues() {
    return Stream.of(
        Arguments.of(
            "a pool without modelName",
            Map.of("workers.pools.vram-8g.modelName", ""),
            "workers.pools.vram-8g.modelName is required"),
        Arguments.of(
            "a pool that is no memory class",
            Map.of("workers.pools.vram-24g.modelName", "flux-dev"),
            "workers.pools.vram-24g: \"vram-24g\" is not a memory class the gateway routes to"),
        Arguments.of(
            "a pool of another name without a memory class",
            Map.of(
                "workers.pools.newbie.modelName",
                "flux-dev",
                "workers.pools.newbie.modelVolume.existingClaim",
                "m",
                "workers.pools.newbie.minReplicas",
                0,
                "workers.pools.newbie.maxReplicas",
                1),
            "workers.pools.newbie: \"newbie\" is not a memory class the gateway routes to; name"
                + " the pool after one (vram-8g, vram-12g, vram-16g) or set its memoryClass"),
        Arguments.of(
            "two pools for one class and model",
            Map.of(
                "workers.pools.second.memoryClass",
                "vram-8g",
                "workers.pools.second.modelName",
                "flux-dev",
                "workers.pools.second.modelVolume.existingClaim",
                "m",
                "workers.pools.second.minReplicas",
                0,
                "workers.pools.second.maxReplicas",
                1),
            "both serve model flux-dev on class vram-8g: one pool per class and model"),
        Arguments.of(
            "a model name with a dot",
            Map.of("gateway.models.flux\\.v2.family", "flux-dev"),
            "is not a model name"),
        Arguments.of(
            "a pool whose model the gateway does not know",
            Map.of("workers.pools.vram-12g.modelName", "flux-schnell"),
            "workers.pools.vram-12g.modelName \"flux-schnell\" is not in gateway.models"),
        Arguments.of(
            "a pool without a model volume",
            Map.of("workers.pools.vram-16g.modelVolume.existingClaim", ""),
            "workers.pools.vram-16g.modelVolume needs existingClaim or hostPath"),
        Arguments.of(
            "more replicas than partitions",
            Map.of("workers.pools.vram-16g.maxReplicas", 12),
            "workers.pools.vram-16g: 12 replicas but kafka.topicPartitions is 8"),
        Arguments.of(
            "minReplicas above maxReplicas",
            Map.of("workers.pools.vram-8g.minReplicas", 5),
            "need 0 <= minReplicas <= maxReplicas"),
        Arguments.of(
            "a grace period shorter than the drain deadline",
            Map.of("workers.terminationGracePeriodSeconds", 60),
            "workers.terminationGracePeriodSeconds (60) must be at least"),
        Arguments.of(
            "no database secret",
            Map.of("postgresql.existingSecret", ""),
            "postgresql.existingSecret is required"),
        Arguments.of(
            "a default model missing from the registry",
            Map.of("gateway.defaultModel", "flux-schnell"),
            "gateway.defaultModel \"flux-schnell\" is not a key of gateway.models"));
  }

  /**
   * Every value in values.yaml is documented: a leaf has a "# --" comment right above it, or sits
   * inside a block (a probe, a resources map, a model entry) whose key has one.
   */
  @Test
  void everyValueIsDocumented() throws IOException {
    List<String> undocumented = ChartFiles.undocumentedValues(CHART.resolve("values.yaml"));

    assertTrue(undocumented.isEmpty(), () -> "undocumented values: " + undocumented);
  }

  static TemplateCommand template() {
    return template(CHART);
  }

  static TemplateCommand template(Path chart) {
    return new Helm(chart)
        .template()
        .withName(RELEASE)
        .withNamespace("fleet")
        .withKubeVersion(KUBE_VERSION);
  }

  static InstallCommand install() {
    return new Helm(CHART)
        .install()
        .withName(RELEASE)
        .withNamespace("fleet")
        .withKubeVersion(KUBE_VERSION)
        .clientOnly()
        .dryRun()
        .withDryRunOption(DryRun.CLIENT);
  }

  /**
   * The objects of a {@code helm template} run (helm-java leaves hooks such as the test pod out).
   */
  static List<HasMetadata> render(TemplateCommand command) {
    String manifests = command.call();
    List<HasMetadata> objects = new ArrayList<>();
    for (String doc : manifests.split("(?m)^---\\s*$")) {
      if (doc.lines().anyMatch(l -> !l.isBlank() && !l.startsWith("#"))) {
        objects.add(KUBE.unmarshal(doc, HasMetadata.class));
      }
    }
    return objects;
  }

  static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type, String name) {
    List<T> found =
        objects.stream()
            .filter(type::isInstance)
            .map(type::cast)
            .filter(o -> o.getMetadata().getName().equals(name))
            .toList();
    assertEquals(
        1, found.size(), () -> type.getSimpleName() + " " + name + " in " + kinds(objects));
    return found.get(0);
  }

  static List<String> names(List<HasMetadata> objects, Class<?> type, String prefix) {
    return objects.stream()
        .filter(type::isInstance)
        .map(o -> o.getMetadata().getName())
        .filter(n -> n.startsWith(prefix))
        .sorted()
        .toList();
  }

  static String kinds(List<HasMetadata> objects) {
    return objects.stream()
        .map(o -> o.getKind() + "/" + o.getMetadata().getName())
        .collect(Collectors.joining(", "));
  }

  static Container container(Deployment d) {
    return d.getSpec().getTemplate().getSpec().getContainers().get(0);
  }

  static Volume volume(Deployment d, String name) {
    return d.getSpec().getTemplate().getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError(d.getMetadata().getName() + " has no volume " + name));
  }

  static EnvVar env(Container c, String name) {
    Optional<EnvVar> found = c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst();
    return found.orElseThrow(() -> new AssertionError(c.getName() + " has no env " + name));
  }
}
