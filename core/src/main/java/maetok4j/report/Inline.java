package maetok4j.report;

import java.util.ArrayList;
import java.util.List;

/**
 * The inline markup of report text: {@code `code`} and {@code **bold**} spans, everything else literal. Kept this
 * small on purpose: both renderers must escape all other characters, so a table cell holding a path with
 * underscores or a {@code <} comes out as written.
 */
final class Inline {

    enum Kind { TEXT, CODE, BOLD }

    record Span(Kind kind, String text) {}

    private Inline() {}

    static void requireText(String text, String what) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException(what + " is empty");
        }
    }

    /** The spans of {@code text}; an unclosed span, or code inside bold, is an error naming the text. */
    static List<Span> parse(String text) {
        List<Span> spans = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        Kind kind = Kind.TEXT;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean star2 = c == '*' && i + 1 < text.length() && text.charAt(i + 1) == '*';
            if (kind == Kind.TEXT && (c == '`' || star2)) {
                flush(spans, kind, current);
                kind = c == '`' ? Kind.CODE : Kind.BOLD;
                i += star2 ? 1 : 0;
            } else if (kind == Kind.CODE && c == '`' || kind == Kind.BOLD && star2) {
                if (current.isEmpty()) {
                    throw new IllegalArgumentException("empty " + kind.name().toLowerCase(java.util.Locale.ROOT) + " span in: " + text);
                }
                flush(spans, kind, current);
                kind = Kind.TEXT;
                i += star2 ? 1 : 0;
            } else if (kind == Kind.BOLD && c == '`') {
                throw new IllegalArgumentException("code inside a bold span is not supported, in: " + text);
            } else {
                current.append(c);
            }
        }
        if (kind != Kind.TEXT) {
            throw new IllegalArgumentException("unclosed " + (kind == Kind.CODE ? "`code`" : "**bold**") + " span in: " + text);
        }
        flush(spans, kind, current);
        return spans;
    }

    /** The text without its markup, for places that take plain text (image alt text, HTML title). */
    static String plain(String text) {
        StringBuilder s = new StringBuilder();
        parse(text).forEach(span -> s.append(span.text()));
        return s.toString();
    }

    private static void flush(List<Span> spans, Kind kind, StringBuilder current) {
        if (!current.isEmpty()) {
            spans.add(new Span(kind, current.toString()));
            current.setLength(0);
        }
    }
}
