package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import maetok4j.losses.Perceptual;
import maetok4j.nn.Block;
import maetok4j.tensor.OwnedArrays;
import maetok4j.tokenizer.DiagonalGaussian;
import maetok4j.tokenizer.VMAE;
import maetok4j.tokenizer.VmaeConfig;
import maetok4j.tokenizer.VmaeMasking;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.random.RandomGenerator;

import static maetok4j.config.Fields.require;

/**
 * The VMAE's training loss of one batch, forward only (the caller runs backward, e.g. in {@link TrainStep}):
 * the reference's {@code MaskedAutoencoderViT.forward_vanilla} with {@code forward_loss} (spec §2.3),
 * <pre>
 *   L = (1 − ρ)·L_mask + ρ·L_vis + λ_P·LPIPS(x, x̂) + λ_KL·KL
 * </pre>
 * where L_vis and L_mask are the mean per-patch MSE over the patches the encoder saw and over those it did
 * not, ρ is {@code visible_loss_ratio}, and KL is the posterior's divergence per visible token.
 *
 * <p>The forward pass: patch_embed + pos_embed → drop the masked tokens ({@link VmaeMasking}) → blocks →
 * norm → to_latent = moments [μ | log σ²] → z = μ + σ·ε → from_latent → decoder_embed → mask tokens back in
 * → + decoder_pos_embed → decoder blocks → decoder_norm → decoder_pred → x̂.
 *
 * <p>The same objective covers the baselines the paper compares with, by switches: a plain autoencoder
 * (mask ratio 0 and KL weight 0, or a non-variational model), a denoising autoencoder (Gaussian noise on the
 * encoder's input, the target stays clean) and a full VAE ({@link KlForm#STANDARD}).
 *
 * <p>Note for recipes: the reference's stage-1 script passes {@code --visible_loss_ratio 0.75}, but
 * {@code engine_pretrain.py} calls {@code model(samples, mask_ratio=…)} without it, so the run used the
 * default ρ = 0.5. ρ is an explicit option here; the caller chooses.
 *
 * <p>Randomness is explicit ({@link Draws}) so that a test can feed torch the same numbers; {@link #draw}
 * makes it from one seeded generator. Every intermediate belongs to the images' manager (the step's scope).
 */
public final class VmaeObjective {

    /**
     * The posterior regulariser, per latent element (log σ² clamped to [−30, 20] first, as the reference).
     * Both are summed over channels and visible tokens, then divided by batch size and visible tokens.
     */
    public enum KlForm {
        /**
         * {@code ½(σ²/s² − 1 − log σ² + log s²)}, no μ² term: only the variance is pulled toward a fixed s², the
         * mean is free (the VMAE/ copy's {@code DiagonalGaussianDistribution.kl} with {@code fixed_std}; stage 1
         * uses s = 1e-3). With s = 1 it is that copy's form without {@code fixed_std}, {@code ½(σ² − 1 − log σ²)}.
         */
        FIXED_STD,
        /** {@code ½(μ² + σ² − 1 − log σ²)}, the ordinary VAE's KL to N(0, I) (the LDMAE/ copy's {@code kl()}): the full-VAE baseline. */
        STANDARD
    }

    /**
     * @param maskRatio        fraction of patch tokens dropped before the encoder, in [0, 1) (stage 1: 0.25); 0 = no masking
     * @param visibleLossRatio ρ, the weight of the visible patches' MSE (the masked ones get 1 − ρ); without masking the
     *                         reconstruction term is the plain MSE and ρ is unused
     * @param normPixLoss      the reference's {@code norm_pix_loss}: targets normalised per patch (mean 0, unbiased
     *                         variance 1, eps 1e-6) for the MSE; the perceptual term still compares raw images
     * @param klForm           which KL (see {@link KlForm})
     * @param klStd            s of {@link KlForm#FIXED_STD} (positive); must be 1 for {@link KlForm#STANDARD}
     * @param klWeight         λ_KL (stage 1: 1e-6); must be 0 for a non-variational model
     * @param perceptualWeight λ_P (stage 1: 0.5); positive exactly when a perceptual loss is given
     * @param inputNoiseStd    the denoising-autoencoder baseline's noise std on the [-1, 1] input images; 0 = none
     */
    public record Options(double maskRatio, double visibleLossRatio, boolean normPixLoss, KlForm klForm, double klStd,
            double klWeight, double perceptualWeight, double inputNoiseStd) {

        public Options {
            require(maskRatio >= 0 && maskRatio < 1, "mask ratio must be in [0, 1), got " + maskRatio);
            require(visibleLossRatio >= 0 && visibleLossRatio <= 1, "visible loss ratio must be in [0, 1], got " + visibleLossRatio);
            require(klForm != null, "a KL form is required");
            require(Double.isFinite(klStd) && klStd > 0, "KL std must be positive and finite, got " + klStd);
            require(klForm != KlForm.STANDARD || klStd == 1, "the STANDARD KL is to N(0, I): KL std must be 1, got " + klStd);
            require(Double.isFinite(klWeight) && klWeight >= 0, "KL weight must be finite and non-negative, got " + klWeight);
            require(Double.isFinite(perceptualWeight) && perceptualWeight >= 0,
                    "perceptual weight must be finite and non-negative, got " + perceptualWeight);
            require(Double.isFinite(inputNoiseStd) && inputNoiseStd >= 0, "input noise std must be finite and non-negative, got " + inputNoiseStd);
        }

        /** Whether tokens are dropped: a ratio keeping all N tokens ({@link VmaeMasking#visibleCount}) trains a plain autoencoder. */
        boolean masks(int patches) {
            return maskRatio > 0 && VmaeMasking.visibleCount(patches, maskRatio) < patches;
        }
    }

    /**
     * The batch's random numbers, each row-major, or null where the options need none.
     *
     * @param inputNoise [B, 3, S, S] standard normal, scaled by {@code inputNoiseStd} here
     * @param maskNoise  [B, N] uniform in [0, 1): the reference's {@code random_masking} noise
     * @param eps        [B, K, C] standard normal: the posterior sample μ + σ·ε per kept token (K = N without masking)
     */
    public record Draws(float[] inputNoise, float[] maskNoise, float[] eps) {}

    /** The loss to differentiate and its parts for the log, named as the reference logs them. */
    public record Result(NDArray loss, Map<String, Double> terms) {}

    private final VMAE model;
    private final VmaeMasking masking;
    private final Options options;
    private final Perceptual perceptual;

    /**
     * @param masking    holds the mask token; required when the options mask, may be null otherwise
     * @param perceptual the LPIPS-style loss (not owned), or null when the perceptual weight is 0
     */
    public VmaeObjective(VMAE model, VmaeMasking masking, Options options, Perceptual perceptual) {
        require(model != null && options != null, "a model and options are required");
        require(masking != null || !options.masks(model.config.numPatches()), "mask ratio " + options.maskRatio() + " needs a mask token (VmaeMasking)");
        require((perceptual != null) == (options.perceptualWeight() > 0),
                "a perceptual loss is needed exactly when the perceptual weight is positive (weight " + options.perceptualWeight() + ")");
        require(model.config.variational() || options.klWeight() == 0,
                "this VMAE is not variational (variational=false): its KL weight must be 0, got " + options.klWeight());
        this.model = model;
        this.masking = masking;
        this.options = options;
        this.perceptual = perceptual;
    }

    /**
     * Draws the batch's random numbers from {@code rng} in a fixed order: input noise (Gaussian, if denoising),
     * masking noise (uniform floats, if masking), ε (Gaussian, if variational). Same seed, same draws.
     */
    public Draws draw(RandomGenerator rng, int batch) {
        VmaeConfig c = model.config;
        int n = c.numPatches();
        float[] input = options.inputNoiseStd() > 0 ? gaussian(rng, batch * 3 * c.imgSize() * c.imgSize()) : null;
        boolean masks = options.masks(n);
        float[] mask = masks ? VmaeMasking.noise(rng, batch, n) : null;
        int k = masks ? VmaeMasking.visibleCount(n, options.maskRatio()) : n;
        float[] eps = c.variational() ? gaussian(rng, batch * k * c.latentDim()) : null;
        return new Draws(input, mask, eps);
    }

    /** images [B, 3, S, S] in [-1, 1] → the loss, with the draws from {@code rng} ({@link #draw}). */
    public Result loss(NDArray images, RandomGenerator rng) {
        return loss(images, draw(rng, Math.toIntExact(images.getShape().get(0))));
    }

    /** images [B, 3, S, S] in [-1, 1] → the loss with the given random numbers. */
    public Result loss(NDArray images, Draws draws) {
        VmaeConfig c = model.config;
        Shape s = images.getShape();
        require(s.dimension() == 4 && s.get(1) == 3 && s.get(2) == c.imgSize() && s.get(3) == c.imgSize(),
                "images must be [B, 3, " + c.imgSize() + ", " + c.imgSize() + "], got " + s);
        int b = Math.toIntExact(s.get(0));
        int n = c.numPatches();
        NDManager scope = images.getManager();
        Map<String, Double> terms = new LinkedHashMap<>();

        NDArray input = images;
        if (options.inputNoiseStd() > 0) {
            float[] noise = need(draws.inputNoise(), b * 3 * c.imgSize() * c.imgSize(), "input noise").clone();
            for (int i = 0; i < noise.length; i++) {
                noise[i] *= (float) options.inputNoiseStd();
            }
            input = images.add(OwnedArrays.of(scope, noise, s)); // [B, 3, S, S]; the target stays clean
        }
        VmaeMasking.Mask mask = options.masks(n)
                ? VmaeMasking.Mask.fromNoise(need(draws.maskNoise(), b * n, "masking noise"), b, n, options.maskRatio()) : null;
        int k = mask == null ? n : mask.visible();

        // encoder on the visible tokens
        NDArray x = model.patchEmbed.forward(input).add(model.posEmbed.array()); // [B, N, D]
        if (mask != null) {
            x = VmaeMasking.keepVisible(x, mask); // [B, K, D]
        }
        for (Block blk : model.blocks) {
            x = blk.forward(x, null, null, 0, 0);
        }
        NDArray moments = model.toLatent.forward(model.norm.forward(x)); // [B, K, 2C] (or the latent [B, K, C])

        NDArray z = moments;
        NDArray kl = null;
        if (c.variational()) {
            NDArray eps = OwnedArrays.of(scope, need(draws.eps(), b * k * c.latentDim(), "eps"), new Shape(b, k, c.latentDim()));
            z = DiagonalGaussian.mode(moments).add(DiagonalGaussian.std(moments).mul(eps)); // [B, K, C]
            kl = kl(moments, b, k);
            terms.put("kl_loss", (double) kl.getFloat());
        }

        // decoder on all tokens, mask tokens where the encoder saw nothing
        NDArray h = model.decoderEmbed.forward(model.fromLatent.forward(z)); // [B, K, D]
        if (mask != null) {
            h = masking.restore(h, mask); // [B, N, D]
        }
        h = h.add(model.decoderPosEmbed.array());
        for (Block blk : model.decoderBlocks) {
            h = blk.forward(h, null, null, 0, 0);
        }
        NDArray xhat = model.decoderPred.forward(model.decoderNorm.forward(h)); // [B, 3, S, S]

        NDArray loss = reconstruction(images, xhat, mask, terms);
        if (perceptual != null) {
            NDArray p = perceptual.loss(images, xhat);
            terms.put("p_loss", (double) p.getFloat());
            loss = loss.add(OwnedArrays.mul(p, options.perceptualWeight()));
        }
        if (kl != null && options.klWeight() > 0) {
            loss = loss.add(OwnedArrays.mul(kl, options.klWeight()));
        }
        terms.put("loss", (double) loss.getFloat());
        return new Result(loss, terms);
    }

    /**
     * {@code forward_loss}'s pixel term: the MSE per patch (mean over its p·p·3 values), averaged over the
     * visible and over the dropped patches, weighted ρ and 1 − ρ. Without masking it is the plain mean (where
     * the reference, whose masked mean would be 0/0, gives NaN).
     */
    private NDArray reconstruction(NDArray images, NDArray xhat, VmaeMasking.Mask mask, Map<String, Double> terms) {
        int p = model.config.patchSize();
        NDArray target = GeneratorObjective.patchify(images, p); // [B, N, P]
        if (options.normPixLoss()) {
            NDArray centred = target.sub(target.mean(new int[] {2}, true));
            long values = target.getShape().get(2);
            NDArray var = OwnedArrays.div(centred.square().sum(new int[] {2}, true), values - 1); // unbiased, as torch.var
            target = centred.div(var.add(OwnedArrays.scalar(var, 1e-6)).sqrt());
        }
        NDArray perPatch = GeneratorObjective.patchify(xhat, p).sub(target).square().mean(new int[] {2}); // [B, N]
        if (mask == null) {
            NDArray mse = perPatch.mean();
            terms.put("vis_loss", (double) mse.getFloat());
            return mse;
        }
        float[] dropped = mask.dropped();
        float[] seen = new float[dropped.length];
        for (int i = 0; i < seen.length; i++) {
            seen[i] = 1 - dropped[i];
        }
        Shape bn = perPatch.getShape();
        long visible = (long) mask.batch() * mask.visible();
        long masked = (long) mask.batch() * mask.patches() - visible;
        NDArray vis = OwnedArrays.div(perPatch.mul(OwnedArrays.of(perPatch.getManager(), seen, bn)).sum(), visible);
        NDArray msk = OwnedArrays.div(perPatch.mul(OwnedArrays.of(perPatch.getManager(), dropped, bn)).sum(), masked);
        terms.put("vis_loss", (double) vis.getFloat());
        terms.put("mask_loss", (double) msk.getFloat());
        double rho = options.visibleLossRatio();
        return OwnedArrays.mul(msk, 1 - rho).add(OwnedArrays.mul(vis, rho));
    }

    /** The KL of the posterior given by moments [B, K, 2C], summed and divided by batch and tokens (the reference's "per patch"). */
    private NDArray kl(NDArray moments, int batch, int tokens) {
        long channels = moments.getShape().get(2) / 2;
        NDArray logvar = moments.get("..., {}:", channels).clip(DiagonalGaussian.MIN_LOGVAR, DiagonalGaussian.MAX_LOGVAR);
        NDArray var = logvar.exp();
        NDArray perElement;
        if (options.klForm() == KlForm.FIXED_STD) {
            float std = (float) options.klStd();
            double fixedVar = std * std; // the reference squares a float32 tensor
            perElement = OwnedArrays.div(var, fixedVar).sub(logvar).add(OwnedArrays.scalar(var, Math.log(fixedVar) - 1));
        } else {
            perElement = DiagonalGaussian.mode(moments).square().add(var).sub(logvar).sub(OwnedArrays.scalar(var, 1));
        }
        return OwnedArrays.mul(perElement.sum(), 0.5 / ((double) batch * tokens));
    }

    private static float[] gaussian(RandomGenerator rng, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    private static float[] need(float[] values, int count, String what) {
        require(values != null && values.length == count, what + " must have " + count + " values, got "
                + (values == null ? "none" : values.length));
        return values;
    }
}
