package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.nn.Parameter;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code torch.optim.AdamW} with two parameter groups: weight decay on the parameters flagged for it
 * (matrices and kernels) and none on the rest (biases, norms, tokens, position tables, RoPE frequencies).
 * Updates are in place; the moment estimates live in this optimiser's manager.
 */
public final class AdamW implements AutoCloseable {

    public record Config(double beta1, double beta2, double eps, double weightDecay) {

        public Config {
            if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1 || eps <= 0 || weightDecay < 0) {
                throw new IllegalArgumentException("AdamW needs betas in [0, 1), eps > 0, weight decay >= 0");
            }
        }
    }

    private final Config config;
    private final NDManager manager;
    private final Map<String, NDArray[]> state = new LinkedHashMap<>();
    private long step;

    public AdamW(Config config, NDManager parent) {
        this.config = config;
        this.manager = parent.newSubManager();
    }

    /**
     * One update of every parameter (by full key) with its current gradient at learning rate {@code lr};
     * temporaries are made in {@code scope}, which the caller closes after the step.
     */
    public void update(Map<String, Parameter> params, double lr, NDManager scope) {
        step++;
        double bc1 = 1 - Math.pow(config.beta1(), step);
        double bc2 = 1 - Math.pow(config.beta2(), step);
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            NDArray w = p.array();
            NDArray[] mv = state.computeIfAbsent(e.getKey(), k -> new NDArray[] {
                manager.zeros(w.getShape()), manager.zeros(w.getShape())});
            for (NDArray s : mv) {
                s.tempAttach(scope);
            }
            NDArray g = w.getGradient();
            if (p.weightDecay() && config.weightDecay() > 0) {
                w.muli((float) (1 - lr * config.weightDecay()));
            }
            mv[0].muli((float) config.beta1()).addi(g.mul((float) (1 - config.beta1())));
            mv[1].muli((float) config.beta2()).addi(g.square().muli((float) (1 - config.beta2())));
            NDArray denom = mv[1].sqrt().divi((float) Math.sqrt(bc2)).addi((float) config.eps());
            w.subi(mv[0].div(denom).muli((float) (lr / bc1)));
        }
    }

    /** The number of updates made so far (the bias corrections depend on it). */
    public long step() {
        return step;
    }

    /** The moment estimates by {@code <key>.exp_avg} and {@code <key>.exp_avg_sq} (torch's state names), for checkpoints. */
    public Map<String, NDArray> stateTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        state.forEach((k, mv) -> {
            out.put(k + ".exp_avg", mv[0]);
            out.put(k + ".exp_avg_sq", mv[1]);
        });
        return out;
    }

    /** Restores what {@link #stateTensors} and {@link #step} saved; the arrays are copied into this optimiser. */
    public void restore(Map<String, NDArray> tensors, long step) {
        state.values().forEach(mv -> {
            mv[0].close();
            mv[1].close();
        });
        state.clear();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            String k = e.getKey();
            if (k.endsWith(".exp_avg")) {
                String key = k.substring(0, k.length() - ".exp_avg".length());
                NDArray sq = tensors.get(key + ".exp_avg_sq");
                if (sq == null) {
                    throw new IllegalArgumentException("optimizer state has " + k + " but no " + key + ".exp_avg_sq");
                }
                state.put(key, new NDArray[] {copy(e.getValue()), copy(sq)});
            }
        }
        this.step = step;
    }

    private NDArray copy(NDArray a) {
        NDArray c = a.duplicate(); // not copyTo: its legacy dispatch mode makes libtorch print a warning
        c.attach(manager);
        return c;
    }

    @Override
    public void close() {
        manager.close();
    }
}
