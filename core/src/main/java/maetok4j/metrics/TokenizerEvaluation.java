package maetok4j.metrics;

import maetok4j.latents.LatentStatistics;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.Dataset;
import maetok4j.data.ImageTensors;
import maetok4j.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * A tokenizer judged on held-out images the way the papers judge it (spec §1.16, §2.6): PSNR and SSIM in the
 * reference protocol, the Fréchet distance between the images and their 8-bit reconstructions (rFD; "rFID"
 * only with the standard InceptionV3), and the statistics of the latents a diffusion model would be trained
 * on. Beside it, the linear baseline every tokenizer must beat: PCA with as many components as the tokenizer
 * has latent floats, fitted on the training rows and scored on the same images in the same protocol.
 */
public final class TokenizerEvaluation {

    private TokenizerEvaluation() {}

    /**
     * @param batchSize images per forward pass
     * @param pcaBaseline fit and score the PCA baseline (when the images are small enough, see {@link PcaCodec#unfittable})
     * @param seed the PCA solver's seed
     */
    public record Options(int batchSize, boolean pcaBaseline, long seed, DistributionMetrics.Options distribution) {

        public Options {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
            }
            if (distribution == null) {
                throw new IllegalArgumentException("distribution metric options are required");
            }
        }
    }

    /** PSNR, SSIM and (with a feature network) the set metrics of one codec's reconstructions. */
    public record Scores(double psnr, double ssim, DistributionMetrics.Result distribution) {}

    /**
     * @param pca the baseline's scores, or null with {@code pcaSkipped} saying why
     * @param pcaComponents the baseline's components (= the tokenizer's latent floats per image)
     */
    public record Result(int images, int imageSize, int trainImages, Scores tokenizer, LatentStatistics.Summary latents,
            int pcaComponents, Scores pca, String pcaSkipped, double seconds) {

        public ObjectNode toJson(ObjectMapper json) {
            ObjectNode o = json.createObjectNode();
            o.put("images", images).put("image_size", imageSize).put("train_images", trainImages).put("seconds", seconds);
            o.put("psnr", tokenizer.psnr()).put("ssim", tokenizer.ssim());
            if (tokenizer.distribution() != null) {
                DistributionMetrics.Result d = tokenizer.distribution();
                o.put("rfd", d.fd()).put("rfd_name", "r" + d.fdName()).put("feature_network", d.network());
                o.set("reconstruction_distribution", d.toJson(json));
            } else {
                o.putNull("rfd");
                o.put("rfd_skipped", "no feature network given (--features)");
            }
            latents.toJson(o.putObject("latents"));
            ObjectNode p = o.putObject("pca_baseline");
            p.put("components", pcaComponents);
            if (pca == null) {
                p.put("skipped", pcaSkipped);
            } else {
                p.put("psnr", pca.psnr()).put("ssim", pca.ssim());
                if (pca.distribution() != null) {
                    p.put("rfd", pca.distribution().fd());
                }
            }
            return o;
        }
    }

    /**
     * @param evalRows the held-out rows scored
     * @param trainRows the rows the PCA baseline is fitted on
     * @param features the feature network for rFD, or null for none
     * @param progress told the number of images after each batch (the PCA pass included)
     * @param notes told about long steps
     */
    public static Result run(Tokenizer tokenizer, Dataset data, int[] evalRows, int[] trainRows, FeatureNetwork features,
            Options options, IntConsumer progress, Consumer<String> notes, NDManager manager) {
        if (evalRows.length == 0) {
            throw new IllegalArgumentException("no images to evaluate");
        }
        long start = System.nanoTime();
        int size = tokenizer.imageSize();
        int components = Math.toIntExact(Arrays.stream(tokenizer.latentShape()).reduce(1, (a, b) -> a * b));
        String pcaSkipped = options.pcaBaseline() ? PcaCodec.unfittable(3, size, components, trainRows.length) : "not requested";
        PcaCodec pca = null;
        if (pcaSkipped == null) {
            notes.accept("fitting the PCA baseline (" + components + " components) on " + trainRows.length + " training images");
            pca = PcaCodec.fit(data, trainRows, size, components, options.seed(), manager);
        }

        ReconstructionMetrics recon = new ReconstructionMetrics();
        ReconstructionMetrics pcaRecon = new ReconstructionMetrics();
        LatentStatistics latents = new LatentStatistics(tokenizer.latentShape(), tokenizer.latentChannelAxis());
        FeatureSet real = features == null ? null : new FeatureSet(features, true);
        FeatureSet fake = features == null ? null : new FeatureSet(features, true);
        FeatureSet pcaFake = features == null || pca == null ? null : new FeatureSet(features, true);
        for (int from = 0; from < evalRows.length; from += options.batchSize()) {
            int[] rows = Arrays.copyOfRange(evalRows, from, Math.min(evalRows.length, from + options.batchSize()));
            try (NDManager scope = manager.newSubManager()) {
                NDArray images = ImageTensors.load(data, rows, size, scope); // [B, 3, S, S]
                NDArray z = tokenizer.encode(images);
                latents.add(z);
                NDArray rec = tokenizer.decode(z);
                recon.add(images, rec);
                if (real != null) {
                    real.add(images);
                    fake.add(rec);
                }
                if (pca != null) {
                    NDArray p = pca.reconstruct(images);
                    pcaRecon.add(images, p);
                    if (pcaFake != null) {
                        pcaFake.add(p);
                    }
                }
            }
            progress.accept(rows.length);
        }
        DistributionMetrics.Options d = options.distribution();
        Scores tok = new Scores(recon.psnr(), recon.ssim(), real == null ? null : DistributionMetrics.compare(real, fake, d));
        Scores base = pca == null ? null
                : new Scores(pcaRecon.psnr(), pcaRecon.ssim(), pcaFake == null ? null : DistributionMetrics.compare(real, pcaFake, d));
        return new Result(evalRows.length, size, trainRows.length, tok, latents.summary(), components, base, pcaSkipped,
                (System.nanoTime() - start) / 1e9);
    }
}
