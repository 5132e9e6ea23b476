package maetok4j.report;

import maetok4j.tensor.AtomicFiles;

import java.nio.file.Path;
import java.util.List;

/**
 * A small document: a title, blocks before the first section, and sections of paragraphs, bullet lists, tables,
 * figures and code. It renders to Markdown ({@link Markdown}, figures as relative links) and to one self-contained
 * HTML file ({@link Html}, figures embedded).
 *
 * <p>Text in paragraphs, bullets, captions and table cells may hold {@code `code`} spans and {@code **bold**} spans;
 * everything else is literal (the renderers escape it), so numbers and paths can be written as they are.
 */
public record Report(String title, List<Block> preamble, List<Section> sections) {

    public Report {
        Inline.requireText(title, "report title");
        preamble = List.copyOf(preamble);
        sections = List.copyOf(sections);
    }

    /** A titled part of the report. */
    public record Section(String heading, List<Block> blocks) {
        public Section {
            Inline.requireText(heading, "section heading");
            Inline.parse(heading);
            blocks = List.copyOf(blocks);
        }
    }

    /** Writes {@code file} atomically; figures are linked relative to its folder. */
    public void writeMarkdown(Path file) {
        Path dir = file.toAbsolutePath().getParent();
        AtomicFiles.writeString(file, Markdown.render(this, dir));
    }

    /** Writes one HTML file with every figure embedded, atomically. */
    public void writeHtml(Path file) {
        AtomicFiles.writeString(file, Html.render(this));
    }
}
