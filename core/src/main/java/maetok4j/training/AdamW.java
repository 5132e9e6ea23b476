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

    @Override
    public void close() {
        manager.close();
    }
}
