package dev.fleet.engine.synthetic;

/** The four networks of a FLUX model, with the folder each lives in (FLUX.1-dev layout). */
public enum Component {
  /** The diffusion transformer. */
  DIT("transformer"),
  /** The T5 text encoder (token features, {@code txt}). */
  T5("text_encoder_2"),
  /** The CLIP text encoder (pooled vector, {@code y}). */
  CLIP("text_encoder"),
  /** The autoencoder. */
  VAE("vae");

  private final String folder;

  Component(String folder) {
    this.folder = folder;
  }

  /** The component's folder inside a model directory. */
  public String folder() {
    return folder;
  }
}
