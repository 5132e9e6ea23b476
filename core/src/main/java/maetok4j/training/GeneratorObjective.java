package maetok4j.training;

import maetok4j.tensor.OwnedArrays;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import maetok4j.losses.Adversarial;
import maetok4j.losses.Hog;
import maetok4j.losses.Perceptual;
import maetok4j.losses.Reconstruction;
import maetok4j.losses.TeacherFeatures;
import maetok4j.tokenizer.MAETok;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * The tokenizer's (generator's) objective of one micro-batch, forward and backward (spec §1.11):
 * {@code rec_w·MSE(x, x̂) + w_p(t)·LPIPS(x, x̂) + λ_adapt·w_d(t)·L_G + Σ aux_w·L_aux}.
 *
 * <p>The image losses are taken on a detached copy of x̂ so that their gradient with respect to x̂ can be
 * read separately for the reconstruction and adversarial parts. The adaptive weight needs those two
 * gradients with respect to the pixel head's weight W; since x̂ = unpatchify(tokens·Wᵀ + b), that gradient is
 * {@code patchify(∂L/∂x̂)ᵀ·tokens}, exact and without a second pass through the decoder. The tokenizer then
 * receives one backward pass with the combined image gradient plus the auxiliary losses.
 */
final class GeneratorObjective implements AutoCloseable {

    /** The loss terms of the micro-batch (for the log) and the detached reconstruction (for the discriminator). */
    record Result(Map<String, Double> terms, NDArray reconstruction) {}

    private final TrainConfig config;
    private final TokenizerTrainer.Stage stage;
    private final MAETok model;
    private final Adversary adversary;
    private final Reconstruction reconstruction;
    private final Perceptual perceptual;
    private final Map<String, TeacherFeatures> teachers = new LinkedHashMap<>();

    GeneratorObjective(TrainConfig config, TokenizerTrainer.Stage stage, MAETok model, Adversary adversary) {
        this.config = config;
        this.stage = stage;
        this.model = model;
        this.adversary = adversary;
        this.reconstruction = Reconstruction.parse(config.losses().reconstructionLoss());
        this.perceptual = config.losses().perceptualWeight() > 0 ? Perceptual.load(config.losses().perceptualModel()) : null;
        if (stage == TokenizerTrainer.Stage.MASK_MODELING) {
            for (TrainConfig.Target t : config.aux().targets()) {
                if (t.teacher() != null) {
                    teachers.put(t.name(), TeacherFeatures.load(t.teacher()));
                }
            }
        }
    }

    /**
     * @param x images [B, 3, S, S] in the step's scope
     * @param mask [B, N] with 1 at masked patches, or null
     * @param scale the micro-batch's share of the step (1 / accumulation steps)
     */
    Result forwardBackward(NDArray x, NDArray mask, long step, double scale, RandomGenerator rng) {
        Map<String, Double> terms = new LinkedHashMap<>();
        boolean stage1 = stage == TokenizerTrainer.Stage.MASK_MODELING;
        NDArray z = stage1 ? null : model.encodeForward(x, mask).stopGradient(); // frozen encoder: no graph
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            if (stage1) {
                z = model.encodeForward(x, mask); // [B, L, C]
            }
            NDArray tokens = model.decodeFeatures(z); // [B, N, D]
            NDArray xhat = model.pixelHead(tokens); // [B, 3, S, S]

            NDArray leaf = detachedLeaf(xhat);
            NDArray rec = OwnedArrays.mul(reconstruction.loss(x, leaf), config.losses().reconstructionWeight());
            terms.put("rec_loss", rec.getFloat() / config.losses().reconstructionWeight());
            NDArray nll = rec;
            double pw = config.losses().perceptualWeightAt(step);
            if (perceptual != null && pw > 0) {
                NDArray p = perceptual.loss(x, leaf);
                terms.put("perceptual_loss", (double) p.getFloat());
                nll = nll.add(OwnedArrays.mul(p, pw));
            }
            double advWeight = adversary == null ? 0 : adversary.generatorWeight(step);
            NDArray imageGrad;
            double nllValue = nll.getFloat();
            double total = nllValue;
            if (advWeight > 0) {
                NDArray fake = detachedLeaf(xhat);
                NDArray g = adversary.generatorLoss(fake, rng);
                double gValue = g.getFloat();
                gc.backward(nll);
                gc.backward(g);
                adversary.zeroGradients();
                NDArray gradNll = gradientOf(leaf);
                NDArray gradAdv = gradientOf(fake);
                double lambda = config.gan().discAdaptiveWeight()
                        ? Adversarial.adaptiveWeight(headGradNorm(gradNll, tokens), headGradNorm(gradAdv, tokens)) : 1.0;
                imageGrad = gradNll.add(OwnedArrays.mul(gradAdv, lambda * advWeight));
                terms.put("gen_adv_loss", gValue);
                terms.put("adaptive_weight", lambda);
                total += lambda * advWeight * gValue;
            } else {
                gc.backward(nll);
                imageGrad = gradientOf(leaf);
            }
            NDArray surrogate = xhat.mul(OwnedArrays.mul(imageGrad, scale)).sum(); // backward of it gives the image gradient
            if (stage1 && !config.aux().targets().isEmpty()) {
                NDArray aux = auxiliaryLoss(x, z, mask, terms);
                total += aux.getFloat();
                surrogate = surrogate.add(OwnedArrays.mul(aux, scale));
            }
            gc.backward(surrogate);
            terms.put("loss", total);
            return new Result(terms, xhat.stopGradient());
        }
    }

    /** Σ weight·loss over the auxiliary targets; each loss counts masked tokens only when aux_loss_mask is set. */
    private NDArray auxiliaryLoss(NDArray x, NDArray z, NDArray mask, Map<String, Double> terms) {
        NDArray sum = null;
        boolean masked = config.aux().auxLossMask() && mask != null;
        for (TrainConfig.Target t : config.aux().targets()) {
            NDArray pred = model.auxForward(t.name(), z); // [B, N, D_t]
            NDArray loss;
            if (t.name().equals("dino") || t.name().equals("clip")) {
                NDArray target = teachers.get(t.name()).targets(x); // [B, N, D_t], no gradient
                loss = TeacherFeatures.negativeCosine(pred, target, masked ? mask : null);
            } else {
                NDArray target = t.name().equals("hog") ? Hog.features(x, model.config.encPatchSize())
                        : patchify(x, model.config.encPatchSize());
                loss = maskedMse(pred, target.stopGradient(), masked ? mask : null);
            }
            terms.put("aux_" + t.name(), (double) loss.getFloat());
            NDArray weighted = OwnedArrays.mul(loss, t.weight());
            sum = sum == null ? weighted : sum.add(weighted);
        }
        return sum;
    }

    /**
     * The reference's masked MSE: {@code sum(mse·mask) / sum(mask) / D}, mse per element; the plain mean
     * without a mask.
     */
    static NDArray maskedMse(NDArray pred, NDArray target, NDArray mask) {
        NDArray se = pred.sub(target).square(); // [B, N, D]
        if (mask == null) {
            return se.mean();
        }
        long d = se.getShape().get(2);
        return OwnedArrays.div(se.mul(mask.expandDims(2)).sum().div(mask.sum()), d);
    }

    /** images [B, 3, h·p, w·p] → patches [B, h·w, p·p·3] in the pixel head's (row, column, channel) order. */
    static NDArray patchify(NDArray images, int p) {
        Shape s = images.getShape();
        long b = s.get(0);
        long h = s.get(2) / p;
        long w = s.get(3) / p;
        return images.reshape(b, 3, h, p, w, p).transpose(0, 2, 4, 3, 5, 1).reshape(b, h * w, (long) p * p * 3);
    }

    /**
     * The norm of ∂L/∂W for the pixel head x̂ = unpatchify(tokens·Wᵀ + b), given ∂L/∂x̂: the gradient is
     * {@code Σ patchify(∂L/∂x̂)ᵀ·tokens} over all tokens of the batch.
     */
    static double headGradNorm(NDArray imageGrad, NDArray tokens) {
        int p = (int) Math.round(Math.sqrt(imageGrad.getShape().get(2) * imageGrad.getShape().get(3) / (double) tokens.getShape().get(1)));
        NDArray g = patchify(imageGrad, p); // [B, N, P]
        long rows = g.getShape().get(0) * g.getShape().get(1);
        NDArray t = tokens.stopGradient().reshape(rows, tokens.getShape().get(2)); // [B·N, D]
        NDArray gw = g.reshape(rows, g.getShape().get(2)).transpose().matMul(t); // [P, D]
        return Math.sqrt(gw.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).square().sum().getDouble());
    }

    private static NDArray detachedLeaf(NDArray a) {
        NDArray leaf = a.stopGradient();
        leaf.setRequiresGradient(true);
        return leaf;
    }

    private static NDArray gradientOf(NDArray leaf) {
        try (NDArray g = leaf.getGradient()) {
            NDArray copy = g.duplicate();
            copy.attach(leaf.getManager());
            return copy;
        }
    }

    @Override
    public void close() {
        if (perceptual != null) {
            perceptual.close();
        }
        teachers.values().forEach(TeacherFeatures::close);
    }
}
