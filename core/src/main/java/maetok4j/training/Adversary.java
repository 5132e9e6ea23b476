package maetok4j.training;

import maetok4j.tensor.OwnedArrays;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.losses.Adversarial;
import maetok4j.losses.ConsistencyRegularization;
import maetok4j.losses.DiffAugment;
import maetok4j.losses.DinoDiscriminator;
import maetok4j.losses.Discriminator;
import maetok4j.losses.LeCam;
import maetok4j.losses.PatchGanDiscriminator;
import maetok4j.nn.Parameter;
import maetok4j.nn.StateDict;
import maetok4j.nn.TorchScriptNetwork;
import maetok4j.tensor.Safetensors;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * The adversarial side of tokenizer training (the reference's {@code VQLoss} with {@code optimizer_idx} 1):
 * the discriminator, its own AdamW, LeCAM's logit averages, DiffAugment and consistency regularisation.
 *
 * <p>Discriminator loss: {@code disc_weight·(L_D + lecam_weight·LeCAM) + cr_weight·CR}, with L_D on
 * (augmented) real images and detached reconstructions; nothing is trained before {@code disc_start}
 * (the reference computes a loss multiplied by zero there, whose only effect is AdamW's weight decay).
 */
final class Adversary implements AutoCloseable {

    private final TrainConfig.Gan config;
    private final Discriminator discriminator;
    private final AdamW optimizer;
    private final TrainConfig.Optim optim;
    private final Adversarial discLoss;
    private final Adversarial genLoss;
    private final LeCam lecam;
    private final DiffAugment weak;
    private final ConsistencyRegularization consistency;
    private final StepRandom random = new StepRandom();

    Adversary(TrainConfig config, long seed, NDManager manager) {
        this.config = config.gan();
        this.optim = config.optim();
        TrainConfig.Gan g = config.gan();
        if (g.discType().equals("patchgan")) {
            discriminator = PatchGanDiscriminator.create(new PatchGanDiscriminator.Config(3, g.discDim(), g.discNumLayers()), manager, seed + 1);
        } else {
            discriminator = DinoDiscriminator.create(DinoDiscriminator.Config.defaults(), TorchScriptNetwork.load(g.discModel()),
                    random, manager, seed + 1);
        }
        discriminator.train(true);
        discriminator.trainableParameters().values().forEach(p -> p.array().setRequiresGradient(true));
        optimizer = new AdamW(config.optim().adamW(), manager);
        discLoss = Adversarial.parse(g.discLoss());
        genLoss = Adversarial.parse(g.genLoss());
        lecam = g.lecamLossWeight() != null ? new LeCam(0.999) : null;
        weak = g.useDiffAug() ? DiffAugment.parse(DiffAugment.DEFAULT_POLICY, 0.5) : null;
        consistency = g.discCrLossWeight() > 0 ? new ConsistencyRegularization(g.discCrLossWeight(), g.discStart()) : null;
    }

    /** {@code disc_weight}, or 0 before {@code disc_start} (the reference's {@code adopt_weight}). */
    double generatorWeight(long step) {
        return Adversarial.startAt(config.discWeight(), step, config.discStart());
    }

    /** The generator's adversarial loss on reconstructions (DiffAugment first when enabled, as the reference). */
    NDArray generatorLoss(NDArray fake, RandomGenerator rng) {
        random.use(rng);
        NDArray in = weak != null ? weak.apply(fake, rng) : fake;
        return genLoss.generator(discriminator.forward(in));
    }

    /** The generator's backward also reaches the discriminator's weights; those gradients are discarded. */
    void zeroGradients() {
        Gradients.zero(discriminator.trainableParameters().values());
    }

    /** Moves the discriminator's tensors into the step's scope (they return to their owner when it closes). */
    void attach(NDManager scope) {
        for (Parameter p : discriminator.stateDict().values()) {
            p.array().tempAttach(scope);
        }
    }

    /** One discriminator update on the step's (real, reconstruction) micro-batches; its log terms, or none before the start. */
    Map<String, Double> discriminatorStep(List<NDArray[]> pairs, long step, double lr, RandomGenerator rng, NDManager scope) {
        Map<String, Double> logs = new LinkedHashMap<>();
        if (step < config.discStart()) {
            return logs;
        }
        random.use(rng);
        Map<String, Parameter> trainable = discriminator.trainableParameters();
        for (NDArray[] pair : pairs) {
            NDArray real = pair[0];
            NDArray fake = pair[1].stopGradient();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logitsReal = discriminator.forward(weak != null ? weak.apply(real, rng) : real);
                NDArray logitsFake = discriminator.forward(weak != null ? weak.apply(fake, rng) : fake);
                NDArray adv = discLoss.discriminator(logitsReal, logitsFake);
                logs.merge("disc_loss", (double) adv.getFloat() / pairs.size(), Double::sum);
                NDArray loss = adv;
                if (lecam != null) {
                    lecam.update(logitsReal, logitsFake);
                    NDArray reg = lecam.regularizer(logitsReal, logitsFake);
                    logs.merge("disc_lecam", (double) reg.getFloat() / pairs.size(), Double::sum);
                    loss = loss.add(OwnedArrays.mul(reg, config.lecamLossWeight()));
                }
                loss = OwnedArrays.mul(loss, config.discWeight());
                if (consistency != null) {
                    NDArray cr = consistency.loss(discriminator, real, fake, logitsReal, logitsFake, step, rng);
                    logs.merge("disc_cr", (double) cr.getFloat() / pairs.size(), Double::sum);
                    loss = loss.add(cr);
                }
                logs.merge("logits_real", (double) logitsReal.mean().getFloat() / pairs.size(), Double::sum);
                logs.merge("logits_fake", (double) logitsFake.mean().getFloat() / pairs.size(), Double::sum);
                gc.backward(OwnedArrays.div(loss, pairs.size()));
            }
        }
        Gradients.Norm norm = Gradients.clipGlobalNorm(trainable, optim.maxGradNorm());
        if (!norm.finite()) {
            throw new TokenizerTrainer.DivergedException("step " + (step + 1) + ": the discriminator's gradient norm "
                    + norm.describe() + "; the last good checkpoint is kept");
        }
        optimizer.update(trainable, lr, scope);
        Gradients.zero(trainable.values());
        logs.put("disc_grad_norm", norm.value());
        return logs;
    }

    // ---- checkpoints ------------------------------------------------------------------------------------

    void save(Path folder, ObjectNode state) {
        StateDict.save(discriminator, folder.resolve("disc.safetensors"));
        Safetensors.write(folder.resolve("disc_optimizer.safetensors"), optimizer.stateTensors(),
                Map.of("step", Long.toString(optimizer.step())));
        if (lecam != null) {
            state.put("lecam_real_ema", lecam.realEma()).put("lecam_fake_ema", lecam.fakeEma());
        }
    }

    void restore(Path folder, JsonNode state, NDManager tmp) {
        try (Safetensors d = Safetensors.open(folder.resolve("disc.safetensors"))) {
            Map<String, NDArray> saved = RunCheckpoints.readAll(d, tmp);
            discriminator.stateDict().forEach((k, p) -> {
                NDArray v = saved.get(k);
                if (v == null) {
                    throw new IllegalArgumentException(folder.resolve("disc.safetensors") + ": no '" + k + "'");
                }
                NDArray copy = v.toType(p.array().getDataType(), true);
                copy.attach(discriminator.manager());
                p.set(copy);
                if (p.isTrainable()) {
                    copy.setRequiresGradient(true);
                }
            });
        }
        try (Safetensors o = Safetensors.open(folder.resolve("disc_optimizer.safetensors"))) {
            optimizer.restore(RunCheckpoints.readAll(o, tmp), Long.parseLong(o.metadata().getOrDefault("step", "0")));
        }
        if (lecam != null) {
            lecam.restore(state.path("lecam_real_ema").asDouble(), state.path("lecam_fake_ema").asDouble());
        }
    }

    @Override
    public void close() {
        optimizer.close();
        discriminator.close();
    }

    /**
     * The random source a discriminator keeps for its own draws (the DINO discriminator's crops), pointed at
     * each step's generator so that a resumed run draws the same crops.
     */
    private static final class StepRandom implements RandomGenerator {
        private RandomGenerator current = new java.util.SplittableRandom(0);

        void use(RandomGenerator rng) {
            current = rng;
        }

        @Override
        public long nextLong() {
            return current.nextLong();
        }
    }
}
