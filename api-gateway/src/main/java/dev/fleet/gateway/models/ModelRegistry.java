package dev.fleet.gateway.models;

import dev.fleet.model.GenerationSpec;
import dev.fleet.model.job.ModelNames;
import dev.fleet.model.memory.ModelDims;
import dev.fleet.model.memory.StorageType;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/** The configured models, checked once at start so that a bad entry stops the gateway early. */
@ApplicationScoped
public class ModelRegistry {
  private final Map<String, Model> models = new TreeMap<>();
  private final Model defaultModel;

  public ModelRegistry(ModelRegistryConfig config) {
    config.models().forEach((name, s) -> models.put(name, model(name, s)));
    defaultModel = models.get(config.defaultModel());
    if (defaultModel == null) {
      throw new IllegalStateException(
          "fleet.default-model="
              + config.defaultModel()
              + " is not in fleet.models "
              + models.keySet());
    }
  }

  private static Model model(String name, ModelRegistryConfig.ModelSettings s) {
    try {
      ModelNames.requireTopicSafe(name);
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("fleet.models." + name + ": " + e.getMessage());
    }
    ModelDims dims =
        ModelDims.preset(s.family())
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "fleet.models."
                            + name
                            + ".family: unknown family "
                            + s.family()
                            + " (known: "
                            + String.join(", ", ModelDims.presetNames())
                            + ")"));
    StorageType storage;
    try {
      storage = StorageType.parse(s.ditStorage());
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("fleet.models." + name + ".dit-storage: " + e.getMessage());
    }
    if (storage != StorageType.FP8 && storage != StorageType.FP16) {
      throw new IllegalStateException(
          "fleet.models." + name + ".dit-storage: fp8 or fp16, got " + s.ditStorage());
    }
    Model m =
        new Model(
            name,
            dims,
            storage,
            s.defaultSteps(),
            s.defaultWidth(),
            s.defaultHeight(),
            s.defaultGuidance(),
            s.minSide(),
            s.maxSide(),
            s.maxSteps());
    try {
      GenerationSpec defaults =
          new GenerationSpec(
              "defaults",
              0,
              m.defaultSteps(),
              m.defaultWidth(),
              m.defaultHeight(),
              m.defaultGuidance(),
              name);
      var errors = m.check(defaults.width(), defaults.height(), defaults.steps());
      if (!errors.isEmpty()) {
        throw new IllegalArgumentException(errors.toString());
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalStateException("fleet.models." + name + ": defaults " + e.getMessage());
    }
    return m;
  }

  public Optional<Model> find(String name) {
    return Optional.ofNullable(models.get(name));
  }

  public Model defaultModel() {
    return defaultModel;
  }

  public Set<String> names() {
    return models.keySet();
  }
}
