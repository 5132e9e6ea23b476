package maetok4j.cli;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.node.ObjectNode;
import maetok4j.data.Dataset;
import maetok4j.data.Datasets;
import maetok4j.latents.LatentCache;
import maetok4j.latents.LatentStatistics;
import maetok4j.tokenizer.Tokenizer;
import maetok4j.tokenizer.Tokenizers;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** A dataset encoded into a latent store, for analysis and diffusion. */
@Command(name = "cache-latents", mixinStandardHelpOptions = true,
        description = "Encode a dataset into a latent store (sharded safetensors with labels, stats.json beside it); rerun to resume.")
final class CacheLatentsCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL", description = "A checkpoint folder (or a preset name, random weights).")
    String model;

    @Option(names = "--data", required = true, paramLabel = "SOURCE",
            description = "A bundled dataset, a fetched one (NAME or NAME:test), a folder of images, a tensor file or a CIFAR folder.")
    String data;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The store folder; an interrupted run continues here.")
    Path out;

    @Option(names = "--flip", description = "Also cache each image's horizontal mirror (right after it), as the reference does.")
    boolean flip;

    @Option(names = "--shard-size", defaultValue = "1024", paramLabel = "N", description = "Images per shard (default: ${DEFAULT-VALUE}).")
    int shardSize;

    @Option(names = "--batch-size", defaultValue = "32", description = "Images per batch (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--write-stats-to", paramLabel = "MODEL",
            description = "Also store the scalar mean/std in this MAETok checkpoint's config.json as vq_mean/vq_std.")
    Path writeStatsTo;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the summary as JSON to FILE.")
    Path json;

    @Option(names = "--no-progress", description = "No progress bar.")
    boolean noProgress;

    @Override
    public Integer call() {
        LatentCache.Options options;
        try {
            options = new LatentCache.Options(batchSize, shardSize, flip);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        if (writeStatsTo != null && !Files.isRegularFile(writeStatsTo.resolve("config.json"))) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--write-stats-to " + writeStatsTo + ": not a checkpoint folder (no config.json)");
        }
        Dataset dataset = DataCommand.open(data, false, 0);
        LatentCache.Result r;
        // the bar starts with the first image, so a refused --out prints only its error line
        Progress[] bar = {null};
        try (NDManager manager = NDManager.newBaseManager(); Tokenizer tokenizer = Tokenizers.open(model, manager)) {
            r = LatentCache.run(tokenizer, model, dataset, data, out, options, n -> {
                if (bar[0] == null) {
                    bar[0] = new Progress("cache-latents", dataset.size(), "img", !noProgress);
                }
                bar[0].step(n);
            });
        } finally {
            if (bar[0] != null) {
                bar[0].close();
            }
        }
        if (writeStatsTo != null) {
            LatentCache.writeScalarStats(writeStatsTo, r.stats());
        }
        LatentStatistics.Summary s = r.stats();
        if (r.alreadyComplete()) {
            System.out.printf(Locale.ROOT, "%s: already complete (%d latents); nothing to do%n", out, r.latents());
        } else {
            System.out.printf(Locale.ROOT, "cached %d image(s)%s as %d latents %s in %d shard(s)%s in %.1f s -> %s%n", r.images(),
                    flip ? " and their flips" : "", r.latents(), Arrays.toString(s.latentShape()), r.shards(),
                    r.resumedShards() > 0 ? " (" + r.resumedShards() + " resumed)" : "", r.seconds(), out);
        }
        System.out.printf(Locale.ROOT, "  latents: mean %.6g, std %.6g, channel std %.4g..%.4g%s%n", s.mean(), s.std(),
                Arrays.stream(s.channelStd()).min().orElse(Double.NaN), Arrays.stream(s.channelStd()).max().orElse(Double.NaN),
                writeStatsTo != null ? "; written to " + writeStatsTo.resolve("config.json") + " as vq_mean/vq_std" : "");
        ObjectNode o = Reports.object().put("store", out.toString()).put("model", model).put("data", data).put("images", r.images())
                .put("latents", r.latents()).put("shards", r.shards()).put("resumed_shards", r.resumedShards()).put("flip", flip)
                .put("seconds", r.seconds()).put("already_complete", r.alreadyComplete());
        s.toJson(o.putObject("stats"));
        Reports.write(json, o);
        return 0;
    }
}
