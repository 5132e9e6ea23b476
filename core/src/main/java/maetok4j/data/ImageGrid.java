package maetok4j.data;

import ai.djl.ndarray.NDArray;
import maetok4j.tensor.AtomicFiles;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Rows of images tiled into one picture (reconstruction grids, sample grids), written as PNG. */
public final class ImageGrid {

    private static final int GAP = 2;

    private ImageGrid() {}

    /** Each row is a batch [n, 3, S, S] in [-1, 1]; rows are laid out top to bottom, images left to right. */
    public static BufferedImage tile(List<NDArray> rows, int scale) {
        int cols = 0;
        int size = 0;
        for (NDArray r : rows) {
            cols = Math.max(cols, (int) r.getShape().get(0));
            size = Math.max(size, (int) r.getShape().get(2));
        }
        int cell = size * scale;
        BufferedImage out = new BufferedImage(cols * (cell + GAP) + GAP, rows.size() * (cell + GAP) + GAP, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, out.getWidth(), out.getHeight());
        for (int r = 0; r < rows.size(); r++) {
            List<BufferedImage> images = ImageTensors.toImages(rows.get(r));
            for (int c = 0; c < images.size(); c++) {
                g.drawImage(images.get(c), GAP + c * (cell + GAP), GAP + r * (cell + GAP), cell, cell, null);
            }
        }
        g.dispose();
        return out;
    }

    /** Writes a PNG atomically. */
    public static void writePng(BufferedImage image, Path file) {
        AtomicFiles.write(file, tmp -> {
            if (!ImageIO.write(image, "png", tmp.toFile())) {
                throw new IOException("no PNG writer");
            }
        });
    }
}
