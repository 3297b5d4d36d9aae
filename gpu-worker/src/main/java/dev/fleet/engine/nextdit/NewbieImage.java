package dev.fleet.engine.nextdit;

/**
 * A generated image.
 *
 * @param rgb interleaved 8-bit RGB, rows of {@code width} pixels
 * @param png the same pixels as a PNG carrying the request's settings
 */
public record NewbieImage(NewbieRequest request, int width, int height, byte[] rgb, byte[] png) {}
