package maetok4j.report;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GitHub-flavoured Markdown: figures are links to the PNG files relative to the report's folder, so the report
 * and its figures move together. All literal text is backslash-escaped, so nothing a result contains (underscores
 * in paths, pipes, angle brackets) turns into markup.
 */
public final class Markdown {

    private static final String ESCAPED = "\\`*_[]<>|#&~!";
    private static final Pattern ORDERED = Pattern.compile("^(\\d+)([.)])(\\s|$)");

    private Markdown() {}

    /** The report as Markdown; figure links are relative to {@code dir}, where the file will be written. */
    public static String render(Report report, Path dir) {
        Path base = dir.toAbsolutePath().normalize();
        StringBuilder out = new StringBuilder();
        out.append("# ").append(inline(report.title(), false)).append("\n\n");
        int[] counters = {0, 0}; // tables, figures
        blocks(out, report.preamble(), base, counters);
        for (Report.Section s : report.sections()) {
            out.append("## ").append(inline(s.heading(), false)).append("\n\n");
            blocks(out, s.blocks(), base, counters);
        }
        return out.toString().stripTrailing() + "\n";
    }

    private static void blocks(StringBuilder out, List<Block> blocks, Path base, int[] counters) {
        for (Block b : blocks) {
            if (b instanceof Block.Paragraph p) {
                out.append(inline(p.text(), false)).append("\n\n");
            } else if (b instanceof Block.Bullets l) {
                l.items().forEach(i -> out.append("- ").append(inline(i, false)).append('\n'));
                out.append('\n');
            } else if (b instanceof Block.Table t) {
                table(out, t, ++counters[0]);
            } else if (b instanceof Block.Figure f) {
                figure(out, f, ++counters[1], base);
            } else if (b instanceof Block.Code c) {
                fenced(out, c.text(), "");
            }
        }
    }

    private static void table(StringBuilder out, Block.Table t, int number) {
        out.append("**Table ").append(number).append(".** ").append(inline(t.caption(), false)).append("\n\n");
        row(out, t.header());
        out.append('|');
        t.header().forEach(h -> out.append("---|"));
        out.append('\n');
        t.rows().forEach(r -> row(out, r));
        out.append('\n');
        madeBy(out, t.madeBy());
    }

    private static void row(StringBuilder out, List<String> cells) {
        out.append('|');
        cells.forEach(c -> out.append(' ').append(c.isBlank() ? "" : inline(c, true)).append(" |"));
        out.append('\n');
    }

    private static void figure(StringBuilder out, Block.Figure f, int number, Path base) {
        Path png = f.png().toAbsolutePath().normalize();
        if (!Files.isRegularFile(png)) {
            throw new IllegalArgumentException(f.png() + ": no such file (figure '" + Inline.plain(f.caption()) + "')");
        }
        String alt = escape(Inline.plain(f.caption()));
        out.append("![").append(alt).append("](").append(link(base.relativize(png))).append(")\n\n");
        out.append("**Figure ").append(number).append(".** ").append(inline(f.caption(), false)).append("\n\n");
        madeBy(out, f.madeBy());
    }

    private static void madeBy(StringBuilder out, List<Provenance> madeBy) {
        StringBuilder s = new StringBuilder();
        madeBy.forEach(p -> s.append(p.comment()).append('\n').append(p.command()).append('\n'));
        fenced(out, s.toString(), "sh");
    }

    /** A fence longer than any run of backticks inside, so the content cannot close it. */
    private static void fenced(StringBuilder out, String text, String language) {
        int longest = 0;
        Matcher m = Pattern.compile("`+").matcher(text);
        while (m.find()) {
            longest = Math.max(longest, m.group().length());
        }
        String fence = "`".repeat(Math.max(3, longest + 1));
        out.append(fence).append(language).append('\n').append(text.stripTrailing()).append('\n').append(fence).append("\n\n");
    }

    /** A relative path as a link target: '/' separators, each segment percent-encoded as UTF-8. */
    static String link(Path relative) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < relative.getNameCount(); i++) {
            if (i > 0) {
                s.append('/');
            }
            for (byte b : relative.getName(i).toString().getBytes(StandardCharsets.UTF_8)) {
                int c = b & 0xff;
                if (c < 128 && (Character.isLetterOrDigit(c) || "-._~".indexOf(c) >= 0)) {
                    s.append((char) c);
                } else {
                    s.append('%').append(String.format("%02X", c));
                }
            }
        }
        return s.toString();
    }

    static String inline(String text, boolean inTable) {
        StringBuilder s = new StringBuilder();
        List<Inline.Span> spans = Inline.parse(oneLine(text));
        for (int i = 0; i < spans.size(); i++) {
            Inline.Span span = spans.get(i);
            switch (span.kind()) {
                case TEXT -> {
                    String e = escape(span.text());
                    if (i == 0 && !inTable) {
                        e = escapeLineStart(e);
                    }
                    s.append(e);
                }
                // a code span cannot hold a backtick (it would have ended the span); in a table a pipe still splits cells
                case CODE -> s.append('`').append(inTable ? span.text().replace("|", "\\|") : span.text()).append('`');
                case BOLD -> s.append("**").append(escape(span.text())).append("**");
            }
        }
        return s.toString();
    }

    private static String oneLine(String text) {
        return text.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    static String escape(String text) {
        StringBuilder s = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (ESCAPED.indexOf(c) >= 0) {
                s.append('\\');
            }
            s.append(c);
        }
        return s.toString();
    }

    /** A paragraph or item that starts like a list item would become one. */
    private static String escapeLineStart(String text) {
        if (text.matches("^[-+](\\s|$)[\\s\\S]*")) {
            return "\\" + text;
        }
        Matcher m = ORDERED.matcher(text);
        return m.find() ? m.group(1) + "\\" + text.substring(m.group(1).length()) : text;
    }
}
