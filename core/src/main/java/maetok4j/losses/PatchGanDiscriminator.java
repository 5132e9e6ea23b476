package maetok4j.losses;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Activation;
import maetok4j.nn.BatchNorm;
import maetok4j.nn.Conv2d;
import maetok4j.nn.Init;
import maetok4j.nn.Module;

import java.util.ArrayList;
import java.util.List;

/**
 * The reference's PatchGAN discriminator (taming's {@code NLayerDiscriminator} without ActNorm): 4×4
 * convolutions, stride 2 for the first {@code layers} and stride 1 for the last two, channels
 * {@code ndf·min(2^n, 8)}, BatchNorm2d and LeakyReLU(0.2) between them; the output is a one-channel map
 * of patch logits [B, 1, h, w]. Keys are the {@code nn.Sequential}'s: {@code main.<index>.<tensor>}, where
 * activations take indices but hold no tensors. Initial values: conv weights N(0, 0.02), conv biases
 * torch's default, BN weights N(1, 0.02), BN biases 0.
 */
public final class PatchGanDiscriminator extends Discriminator {

    /** {@code disc_in_channels}, {@code disc_dim} (ndf) and {@code disc_num_layers} of the reference. */
    public record Config(int inChannels, int ndf, int layers) {

        public Config {
            if (inChannels <= 0 || ndf <= 0 || layers < 1) {
                throw new IllegalArgumentException("PatchGAN needs in channels > 0, ndf > 0, layers >= 1");
            }
        }

        /** The reference's defaults: 3 channels, ndf 64, 3 layers. */
        public static Config defaults() {
            return new Config(3, 64, 3);
        }
    }

    static final float SLOPE = 0.2f;

    private final Main main;

    public PatchGanDiscriminator(Config config) {
        main = child("main", new Main(config));
    }

    /** A randomly initialised discriminator whose tensors live in a child manager of {@code parent}. */
    public static PatchGanDiscriminator create(Config config, NDManager parent, long seed) {
        PatchGanDiscriminator d = new PatchGanDiscriminator(config);
        d.allocate(parent, seed);
        return d;
    }

    @Override
    public String kind() {
        return "patchgan";
    }

    /** images [B, C, H, W] → logits [B, 1, h, w]. */
    @Override
    public NDArray forward(NDArray images) {
        if (images.getShape().dimension() != 4) {
            throw new IllegalArgumentException("images must be [B, C, H, W], got " + images.getShape());
        }
        return scoped(images, main::forward);
    }

    /** The {@code nn.Sequential}: layers at their reference indices, a LeakyReLU after all but the last. */
    private static final class Main extends Module {

        private final List<Module> layers = new ArrayList<>();

        Main(Config c) {
            Init convInit = Init.normal(0.02);
            Init bnInit = (v, s, r) -> {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (1 + 0.02 * r.nextGaussian());
                }
            };
            int index = 0;
            add(index, new Conv2d(c.inChannels(), c.ndf(), 4, 2, 1, true, convInit));
            index += 2; // LeakyReLU
            int mult = 1;
            for (int n = 1; n <= c.layers(); n++) {
                int prev = mult;
                mult = Math.min(1 << Math.min(n, 3), 8);
                int stride = n < c.layers() ? 2 : 1; // the last of these keeps the resolution
                add(index, new Conv2d(c.ndf() * prev, c.ndf() * mult, 4, stride, 1, false, convInit));
                add(index + 1, new BatchNorm(c.ndf() * mult, 1e-5, BatchNorm.MOMENTUM, bnInit));
                index += 3; // conv, norm, LeakyReLU
            }
            add(index, new Conv2d(c.ndf() * mult, 1, 4, 1, 1, true, convInit));
        }

        private void add(int index, Module m) {
            layers.add(child(Integer.toString(index), m));
        }

        NDArray forward(NDArray x) {
            for (int i = 0; i < layers.size(); i++) {
                Module m = layers.get(i);
                x = m instanceof Conv2d conv ? conv.forward(x) : ((BatchNorm) m).forward(x);
                boolean lastConv = i == layers.size() - 1;
                boolean convBeforeNorm = m instanceof Conv2d && i + 1 < layers.size() && layers.get(i + 1) instanceof BatchNorm;
                if (!lastConv && !convBeforeNorm) {
                    x = Activation.leakyRelu(x, SLOPE);
                }
            }
            return x;
        }
    }
}
