package maetok4j.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import maetok4j.nn.Module;
import maetok4j.nn.Parameter;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An exponential moving average of a model's parameters (the reference's {@code update_ema}: every
 * parameter, trainable or frozen; buffers are not averaged): {@code ema = decay*ema + (1-decay)*p}.
 */
public final class Ema implements AutoCloseable {

    private final NDManager manager;
    private final Map<String, NDArray> shadow = new LinkedHashMap<>();

    /** Starts equal to the model's current parameters. */
    public Ema(Module model, NDManager parent) {
        manager = parent.newSubManager();
        model.stateDict().forEach((k, p) -> {
            if (!p.isBuffer()) {
                NDArray copy = p.array().duplicate();
                copy.attach(manager);
                shadow.put(k, copy);
            }
        });
    }

    public void update(Module model, double decay) {
        for (Map.Entry<String, Parameter> e : model.stateDict().entrySet()) {
            NDArray s = shadow.get(e.getKey());
            if (s != null) {
                try (NDArray p = e.getValue().array().mul((float) (1 - decay))) {
                    s.muli((float) decay).addi(p);
                }
            }
        }
    }

    /** The averaged parameters by key. */
    public Map<String, NDArray> parameters() {
        return shadow;
    }

    /** Overwrites the averages with saved values (resume). */
    public void restore(Map<String, NDArray> saved) {
        for (Map.Entry<String, NDArray> e : shadow.entrySet()) {
            NDArray v = saved.get(e.getKey());
            if (v == null) {
                throw new IllegalArgumentException("EMA state has no '" + e.getKey() + "'");
            }
            NDArray copy = v.duplicate();
            copy.attach(manager);
            e.getValue().close();
            e.setValue(copy);
        }
    }

    /**
     * Runs {@code body} with the averaged values in the model's parameters (evaluation and export use the
     * EMA), then puts the trained values back.
     */
    public void withAveraged(Module model, Runnable body) {
        Map<String, Parameter> params = model.stateDict();
        Map<String, NDArray> trained = new LinkedHashMap<>();
        shadow.forEach((k, v) -> {
            trained.put(k, params.get(k).swap(v));
        });
        try {
            body.run();
        } finally {
            trained.forEach((k, v) -> params.get(k).swap(v));
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
