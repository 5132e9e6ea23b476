package maetok4j.cli;

import maetok4j.data.ImageSource;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;

/** {@code MODEL INPUT... [--no-resize]}: the model and the images that encode and reconstruct read. */
final class ImageInputs {

    @Parameters(index = "0", paramLabel = "MODEL", description = "A checkpoint folder or a preset name.")
    String model;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "INPUT",
            description = "Image files, folders of images, or safetensors files with 'images' [B,3,H,W] in [-1,1].")
    List<Path> inputs;

    @Option(names = "--no-resize", description = "Fail on images whose size differs from the model's instead of center-cropping and resizing them.")
    boolean noResize;

    ImageSource open(int imageSize) {
        return ImageSource.open(inputs, imageSize, !noResize);
    }
}
