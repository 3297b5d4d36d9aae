package dev.fleet.gateway.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The registry checks its names at start: a name becomes part of its jobs' Kafka topic. */
class ModelRegistryTest {
  private static ModelRegistryConfig.ModelSettings shapes() {
    return new ModelRegistryConfig.ModelSettings() {
      @Override
      public String family() {
        return "shapes";
      }

      @Override
      public String ditStorage() {
        return "fp8";
      }

      @Override
      public int defaultSteps() {
        return 16;
      }

      @Override
      public int defaultWidth() {
        return 128;
      }

      @Override
      public int defaultHeight() {
        return 128;
      }

      @Override
      public double defaultGuidance() {
        return 0;
      }

      @Override
      public int minSide() {
        return 16;
      }

      @Override
      public int maxSide() {
        return 1024;
      }

      @Override
      public int maxSteps() {
        return 50;
      }
    };
  }

  private static ModelRegistryConfig config(String name) {
    return new ModelRegistryConfig() {
      @Override
      public String defaultModel() {
        return name;
      }

      @Override
      public Map<String, ModelSettings> models() {
        return Map.of(name, shapes());
      }
    };
  }

  @Test
  void aTopicSafeNameIsServed() {
    ModelRegistry registry = new ModelRegistry(config("my-shapes_2"));
    assertEquals("my-shapes_2", registry.defaultModel().name());
  }

  @Test
  void aNameWithADotStopsTheGatewayNamingTheSetting() {
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> new ModelRegistry(config("flux.dev")));
    assertTrue(
        e.getMessage().startsWith("fleet.models.flux.dev: model name 'flux.dev'"), e.getMessage());
  }
}
