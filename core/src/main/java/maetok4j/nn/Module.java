package maetok4j.nn;

import maetok4j.tensor.OwnedArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * A node of the parameter tree, in the manner of {@code torch.nn.Module}: own parameters and buffers plus
 * named children. The dotted path of a tensor through the tree is its state-dict key, so the tree is
 * built to mirror the reference's modules and checkpoints move both ways unchanged.
 */
public abstract class Module {

    private final Map<String, Parameter> tensors = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training;
    private List<Parameter> all; // stateDict().values(), cached for scoped calls

    protected final Parameter parameter(String name, Shape shape, Init init) {
        return add(new Parameter(name, shape, init, Parameter.Kind.PARAMETER, shape.dimension() >= 2));
    }

    /** A parameter exempt from weight decay although it is not 1-D (tokens, position tables, RoPE frequencies). */
    protected final Parameter parameterNoDecay(String name, Shape shape, Init init) {
        return add(new Parameter(name, shape, init, Parameter.Kind.PARAMETER, false));
    }

    protected final Parameter buffer(String name, Shape shape, Init init) {
        return add(new Parameter(name, shape, init, Parameter.Kind.BUFFER, false));
    }

    private Parameter add(Parameter p) {
        if (tensors.containsKey(p.name()) || children.containsKey(p.name())) {
            throw new IllegalStateException("duplicate name '" + p.name() + "' in " + getClass().getSimpleName());
        }
        tensors.put(p.name(), p);
        return p;
    }

    protected final <M extends Module> M child(String name, M module) {
        if (tensors.containsKey(name) || children.containsKey(name)) {
            throw new IllegalStateException("duplicate name '" + name + "' in " + getClass().getSimpleName());
        }
        children.put(name, module);
        return module;
    }

    /** Every parameter and buffer by its full key, in PyTorch's state-dict order (own parameters, own buffers, children). */
    public final Map<String, Parameter> stateDict() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out);
        return Collections.unmodifiableMap(out);
    }

    private void collect(String prefix, Map<String, Parameter> out) {
        for (Parameter p : tensors.values()) {
            if (!p.isBuffer()) {
                out.put(prefix + p.name(), p);
            }
        }
        for (Parameter p : tensors.values()) {
            if (p.isBuffer()) {
                out.put(prefix + p.name(), p);
            }
        }
        for (Map.Entry<String, Module> c : children.entrySet()) {
            c.getValue().collect(prefix + c.getKey() + ".", out);
        }
    }

    /**
     * This module and every descendant by dotted name, parents before children, as {@code named_modules()}: the root
     * is {@code ""}, so a parameter's key is {@code name + "." + local name} for every other entry.
     */
    public final Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return Collections.unmodifiableMap(out);
    }

    private void collectModules(String name, Map<String, Module> out) {
        out.put(name, this);
        for (Map.Entry<String, Module> c : children.entrySet()) {
            c.getValue().collectModules(name.isEmpty() ? c.getKey() : name + "." + c.getKey(), out);
        }
    }

    /** Parameters that the optimiser updates (trainable, not buffers), by full key. */
    public final Map<String, Parameter> trainableParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        stateDict().forEach((k, p) -> {
            if (p.isTrainable()) {
                out.put(k, p);
            }
        });
        return out;
    }

    /** Number of parameter elements, buffers excluded (as {@code sum(p.numel() for p in model.parameters())}). */
    public final long parameterCount() {
        long n = 0;
        for (Parameter p : stateDict().values()) {
            if (!p.isBuffer()) {
                n += p.numel();
            }
        }
        return n;
    }

    public final boolean isTraining() {
        return training;
    }

    /** Switches this module and all its children between training and evaluation behaviour. */
    public final void train(boolean on) {
        training = on;
        for (Module c : children.values()) {
            c.train(on);
        }
    }

    /** Excludes (or re-includes) every parameter of this subtree from optimisation. */
    public final void setTrainable(boolean on) {
        for (Parameter p : stateDict().values()) {
            if (!p.isBuffer()) {
                p.setTrainable(on);
            }
        }
    }

    /**
     * Gives every tensor its initial value, drawn from a generator seeded by {@code seed} and the tensor's
     * full key, into arrays owned by {@code manager}.
     */
    public final void initialize(NDManager manager, long seed) {
        initialize(manager, seed, Map.of());
    }

    /**
     * {@link #initialize(NDManager, long)} with some tensors filled by other rules than their modules' own, by full
     * key: how a model applies its reference's {@code initialize_weights} on top of the layers' defaults.
     */
    public final void initialize(NDManager manager, long seed, Map<String, Init> overrides) {
        Map<String, Parameter> tensors = stateDict();
        for (String key : overrides.keySet()) {
            if (!tensors.containsKey(key)) {
                throw new IllegalArgumentException("no tensor '" + key + "' to initialise in " + getClass().getSimpleName());
            }
        }
        for (Map.Entry<String, Parameter> e : tensors.entrySet()) {
            Parameter p = e.getValue();
            long[] shape = p.shape().getShape();
            float[] values = new float[Math.toIntExact(p.numel())];
            SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + e.getKey().hashCode());
            overrides.getOrDefault(e.getKey(), p.init()).fill(values, shape, rng);
            p.set(OwnedArrays.of(manager, values, p.shape()));
        }
    }

    /**
     * Runs {@code f} in a child manager of the input's manager with every tensor of this tree temporarily
     * attached to it, so that every intermediate is freed on return and only the result stays, in the caller's
     * manager (inference entry points, and training-time calls that must not leave their activations behind).
     */
    protected final NDArray scoped(NDArray input, UnaryOperator<NDArray> f) {
        NDManager caller = input.getManager();
        if (all == null) {
            all = new ArrayList<>(stateDict().values());
        }
        try (NDManager scope = caller.newSubManager()) {
            for (Parameter p : all) {
                p.array().tempAttach(scope);
            }
            input.tempAttach(scope);
            NDArray out = f.apply(input);
            out.attach(caller);
            return out;
        }
    }
}
