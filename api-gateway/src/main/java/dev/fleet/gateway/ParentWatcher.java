package dev.fleet.gateway;

import dev.fleet.model.process.ParentWatch;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * With {@code -Dlauncher.parent-pid=PID} (the local launcher's), exits when that process is gone
 * ({@link ParentWatch#startIfAsked}).
 */
@ApplicationScoped
public class ParentWatcher {
  void start(@Observes StartupEvent event) {
    ParentWatch.startIfAsked("fleet gateway");
  }
}
