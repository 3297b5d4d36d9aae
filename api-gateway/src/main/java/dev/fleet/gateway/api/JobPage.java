package dev.fleet.gateway.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** One page of {@code GET /v1/jobs}; {@code nextCursor} is absent on the last page. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record JobPage(List<JobView> jobs, String nextCursor) {}
