package maetok4j.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import maetok4j.tensor.Engines;
import maetok4j.tensor.TensorFileException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A TorchScript network (a {@code .pt} file written by {@code torch.jit.save}) run by libtorch as a frozen
 * function: eval mode (dropout off, batch norm on running statistics), every parameter with
 * {@code requires_grad=False} so no gradient ever accumulates in it, while gradients still flow through it
 * back to its input. This is how LPIPS-style perceptual networks and teacher encoders exported from PyTorch
 * are used inside losses.
 *
 * <p>The module and its weights live in a manager this object owns; each call's outputs belong to the input's
 * manager, so a per-step scoped manager releases everything a step made. A tuple or list output becomes
 * several arrays, in order (nested containers are flattened depth-first).
 */
public final class TorchScriptNetwork implements FrozenNetwork {

    private final Path file;
    private final PtNDManager manager;
    private final PtSymbolBlock module;

    private TorchScriptNetwork(Path file, PtNDManager manager, PtSymbolBlock module) {
        this.file = file;
        this.manager = manager;
        this.module = module;
    }

    /** @throws TensorFileException naming the file if it is missing or libtorch cannot load it */
    public static TorchScriptNetwork load(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TensorFileException(file + ": no such TorchScript file");
        }
        Engines.configure();
        NDManager base = NDManager.newBaseManager();
        if (!(base instanceof PtNDManager manager)) {
            base.close();
            throw new IllegalStateException("TorchScript networks need DJL's PyTorch engine, the default engine is "
                    + base.getEngine().getEngineName());
        }
        try {
            // trainParam=true: otherwise libtorch loads the weights as inference tensors and backward through
            // them fails. The module is put in eval mode either way.
            PtSymbolBlock module = JniUtils.loadModule(manager, file.toAbsolutePath(), true, new String[0], new String[0], true);
            JniUtils.enableInferenceMode(module);
            try (NDList params = JniUtils.moduleGetParams(module, manager)) {
                for (NDArray p : params) {
                    p.setRequiresGradient(false); // requires_grad_(False) on the shared tensor; closing the wrapper keeps the weight
                }
            }
            return new TorchScriptNetwork(file, manager, module);
        } catch (RuntimeException e) {
            manager.close();
            throw new TensorFileException(file + ": not a TorchScript file libtorch can load (" + firstLine(e.getMessage()) + ")", e);
        }
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "no message";
        }
        int nl = message.indexOf('\n');
        return (nl < 0 ? message : message.substring(0, nl)).strip();
    }

    public Path file() {
        return file;
    }

    /** Runs the network, recording the autograd graph when gradients are being collected. */
    @Override
    public NDList forward(NDArray input) {
        return run(input, true);
    }

    /**
     * Runs the network with autograd off, whatever the input: for targets that must not carry a graph.
     * Cheaper than {@link #forward} followed by {@code stopGradient} because no graph is recorded at all.
     */
    public NDList infer(NDArray input) {
        return run(input, false);
    }

    private NDList run(NDArray input, boolean recordGraph) {
        if (!(input instanceof PtNDArray)) {
            throw new IllegalArgumentException(file + ": input must be a PyTorch-engine array, got " + input.getClass().getName());
        }
        // DJL reads structure from input names ("a.b" → dict entry, "x[]" → list, "module_method:f" → method);
        // an unnamed view makes sure an image's name is never taken for one.
        NDArray x = input.getName() == null ? input : input.reshape(input.getShape());
        // isTrain=true only means "leave autograd to the global grad mode"; it does not switch the module to training
        return IValueUtils.forward(module, new NDList(x), recordGraph);
    }

    /** Whether any parameter would accumulate a gradient (false once loaded); a check for tests and diagnostics. */
    public boolean anyParameterRequiresGradient() {
        try (NDList params = JniUtils.moduleGetParams(module, manager)) {
            for (NDArray p : params) {
                if (JniUtils.requiresGrad((PtNDArray) p)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Number of parameter tensors in the module. */
    public int parameterCount() {
        try (NDList params = JniUtils.moduleGetParams(module, manager)) {
            return params.size();
        }
    }

    /** Arrays held by the network's own manager (none: calls leave nothing behind in it). */
    int ownArrays() {
        return manager.getManagedArrays().size();
    }

    @Override
    public void close() {
        manager.close(); // closes the module, which is attached to it
    }

    @Override
    public String toString() {
        return "TorchScriptNetwork(" + file + ")";
    }
}
