package maetok4j.report;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;

/**
 * One self-contained HTML file: figures are embedded as {@code data:image/png;base64} URIs and the style sheet is
 * inline, so the file can be mailed or archived alone and opens without a network. Every piece of text is escaped.
 */
public final class Html {

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private static final String STYLE = """
            body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; background: #fff;
                   max-width: 1100px; margin: 2em auto; padding: 0 1.5em; line-height: 1.5; }
            h1 { border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
            h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
            code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 85%; }
            code { background: #eff1f3; padding: .1em .3em; border-radius: 4px; }
            pre { background: #f6f8fa; padding: .8em 1em; border-radius: 6px; overflow-x: auto; white-space: pre; }
            pre code { background: none; padding: 0; }
            pre.made-by { color: #57606a; font-size: 75%; margin-top: .4em; white-space: pre-wrap; overflow-wrap: anywhere; }
            figure { margin: 1.5em 0; }
            figcaption { margin: .4em 0; }
            img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
            table { border-collapse: collapse; margin: .4em 0; font-size: 90%; }
            th, td { border: 1px solid #d0d7de; padding: .3em .7em; text-align: left; vertical-align: top; }
            th { background: #f6f8fa; }
            tbody tr:nth-child(even) { background: #fafbfc; }
            """;

    private Html() {}

    public static String render(Report report) {
        StringBuilder out = new StringBuilder();
        out.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>").append(escape(Inline.plain(report.title()))).append("</title>\n")
                .append("<style>\n").append(STYLE).append("</style>\n</head>\n<body>\n<main>\n")
                .append("<h1>").append(inline(report.title())).append("</h1>\n");
        int[] counters = {0, 0}; // tables, figures
        blocks(out, report.preamble(), counters);
        for (Report.Section s : report.sections()) {
            out.append("<section>\n<h2>").append(inline(s.heading())).append("</h2>\n");
            blocks(out, s.blocks(), counters);
            out.append("</section>\n");
        }
        return out.append("</main>\n</body>\n</html>\n").toString();
    }

    private static void blocks(StringBuilder out, List<Block> blocks, int[] counters) {
        for (Block b : blocks) {
            if (b instanceof Block.Paragraph p) {
                out.append("<p>").append(inline(p.text())).append("</p>\n");
            } else if (b instanceof Block.Bullets l) {
                out.append("<ul>\n");
                l.items().forEach(i -> out.append("<li>").append(inline(i)).append("</li>\n"));
                out.append("</ul>\n");
            } else if (b instanceof Block.Table t) {
                table(out, t, ++counters[0]);
            } else if (b instanceof Block.Figure f) {
                figure(out, f, ++counters[1]);
            } else if (b instanceof Block.Code c) {
                out.append("<pre><code>").append(escape(c.text().stripTrailing())).append("</code></pre>\n");
            }
        }
    }

    private static void table(StringBuilder out, Block.Table t, int number) {
        out.append("<figure class=\"table\">\n<figcaption><strong>Table ").append(number).append(".</strong> ")
                .append(inline(t.caption())).append("</figcaption>\n<table>\n<thead><tr>");
        t.header().forEach(h -> out.append("<th>").append(inline(h)).append("</th>"));
        out.append("</tr></thead>\n<tbody>\n");
        for (List<String> row : t.rows()) {
            out.append("<tr>");
            row.forEach(c -> out.append("<td>").append(c.isBlank() ? "" : inline(c)).append("</td>"));
            out.append("</tr>\n");
        }
        out.append("</tbody>\n</table>\n");
        madeBy(out, t.madeBy());
        out.append("</figure>\n");
    }

    private static void figure(StringBuilder out, Block.Figure f, int number) {
        out.append("<figure>\n<img src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(png(f)))
                .append("\" alt=\"").append(escape(Inline.plain(f.caption()))).append("\">\n")
                .append("<figcaption><strong>Figure ").append(number).append(".</strong> ").append(inline(f.caption()))
                .append("</figcaption>\n");
        madeBy(out, f.madeBy());
        out.append("</figure>\n");
    }

    private static void madeBy(StringBuilder out, List<Provenance> madeBy) {
        out.append("<pre class=\"made-by\">");
        for (Provenance p : madeBy) {
            out.append(escape(p.comment())).append('\n').append(escape(p.command())).append('\n');
        }
        out.setLength(out.length() - 1);
        out.append("</pre>\n");
    }

    /** The figure's bytes, which must be a PNG: a data URI declares its type, and a browser shows nothing for a lie. */
    private static byte[] png(Block.Figure f) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(f.png());
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(f.png() + ": no such file (figure '" + Inline.plain(f.caption()) + "')", e);
        } catch (IOException e) {
            throw new UncheckedIOException(f.png() + ": cannot read: " + e.getMessage(), e);
        }
        if (bytes.length < PNG_SIGNATURE.length || !Arrays.equals(bytes, 0, PNG_SIGNATURE.length, PNG_SIGNATURE, 0, PNG_SIGNATURE.length)) {
            throw new IllegalArgumentException(f.png() + ": not a PNG file (figure '" + Inline.plain(f.caption()) + "')");
        }
        return bytes;
    }

    static String inline(String text) {
        StringBuilder s = new StringBuilder();
        for (Inline.Span span : Inline.parse(text.strip())) {
            switch (span.kind()) {
                case TEXT -> s.append(escape(span.text()));
                case CODE -> s.append("<code>").append(escape(span.text())).append("</code>");
                case BOLD -> s.append("<strong>").append(escape(span.text())).append("</strong>");
            }
        }
        return s.toString();
    }

    /** Text as HTML character data or a quoted attribute value. */
    static String escape(String text) {
        StringBuilder s = new StringBuilder(text.length() + 16);
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '&' -> s.append("&amp;");
                case '<' -> s.append("&lt;");
                case '>' -> s.append("&gt;");
                case '"' -> s.append("&quot;");
                case '\'' -> s.append("&#39;");
                default -> s.append(c);
            }
        }
        return s.toString();
    }
}
