package maetok4j.metrics;

/**
 * A feature network described by a sidecar ({@link FeatureNetworkSpec}): its name, dimensions and FID status
 * come from the spec, whichever runtime (libtorch, ONNX Runtime) runs the network.
 */
interface SpecifiedFeatureNetwork extends FeatureNetwork {

    FeatureNetworkSpec spec();

    @Override
    default String name() {
        return spec().name();
    }

    @Override
    default boolean isFidInception() {
        return spec().fidInception();
    }

    @Override
    default int featureDim() {
        return spec().dim();
    }

    @Override
    default int classes() {
        return spec().classes();
    }

    /** The activations of an empty batch, returned without running the network. */
    default Activations none() {
        return new Activations(0, spec().dim(), new float[0], spec().hasLogits() ? new float[0] : null);
    }
}
