package dev.fleet.engine.pipeline;

import dev.fleet.model.GenerationSpec;

/**
 * The result of one generation.
 *
 * @param rgb HWC bytes, 3 per pixel
 * @param png the encoded image with its generation parameters as text chunks
 */
public record GeneratedImage(GenerationSpec spec, int width, int height, byte[] rgb, byte[] png) {}
