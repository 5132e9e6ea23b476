package maetok4j.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Typed, validated access to the fields of a JSON or YAML config object: a missing field takes its
 * default, a wrong type gives one message naming the field, and {@link #rejectUnknown} names any key
 * the reader never asked for (a typo must not silently fall back to a default).
 */
public final class Fields {

    private final ObjectNode root;
    private final ObjectNode defaults;
    private final Set<String> read = new LinkedHashSet<>();

    public Fields(ObjectNode root, ObjectNode defaults) {
        this.root = root;
        this.defaults = defaults;
    }

    public boolean has(String key) {
        JsonNode v = root.get(key);
        return v != null && !v.isNull();
    }

    public JsonNode get(String key) {
        read.add(key);
        JsonNode v = root.get(key);
        return v == null || v.isNull() ? (defaults == null ? null : defaults.get(key)) : v;
    }

    public int integer(String key) {
        JsonNode v = get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("field '" + key + "' must be an integer, got " + v);
        }
        return v.asInt();
    }

    public long longInteger(String key) {
        JsonNode v = get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException("field '" + key + "' must be an integer, got " + v);
        }
        return v.asLong();
    }

    public double number(String key) {
        JsonNode v = get(key);
        if (v == null || !v.isNumber()) {
            throw new IllegalArgumentException("field '" + key + "' must be a number, got " + v);
        }
        return v.asDouble();
    }

    /** A number, or null when the field is absent or null (the reference's optional weights). */
    public Double optionalNumber(String key) {
        JsonNode v = get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        return number(key);
    }

    public boolean bool(String key) {
        JsonNode v = get(key);
        if (v == null || !v.isBoolean()) {
            throw new IllegalArgumentException("field '" + key + "' must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    public String string(String key) {
        JsonNode v = get(key);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("field '" + key + "' must be a string, got " + v);
        }
        return v.asText();
    }

    /** A string, or null when absent. */
    public String optionalString(String key) {
        JsonNode v = get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        return string(key);
    }

    /** One of the allowed values. */
    public String choice(String key, String... allowed) {
        String s = string(key);
        for (String a : allowed) {
            if (a.equals(s)) {
                return s;
            }
        }
        throw new IllegalArgumentException("field '" + key + "' must be one of " + String.join(", ", allowed) + ", got '" + s + "'");
    }

    public List<String> stringList(String key) {
        JsonNode v = get(key);
        if (v == null || v.isNull()) {
            return List.of();
        }
        if (!v.isArray()) {
            throw new IllegalArgumentException("field '" + key + "' must be a list of strings, got " + v);
        }
        List<String> out = new ArrayList<>();
        for (Iterator<JsonNode> it = v.elements(); it.hasNext(); ) {
            JsonNode e = it.next();
            if (!e.isTextual()) {
                throw new IllegalArgumentException("field '" + key + "' must be a list of strings, got " + v);
            }
            out.add(e.asText());
        }
        return out;
    }

    /** A nested object, or null when absent. */
    public ObjectNode object(String key) {
        JsonNode v = get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isObject()) {
            throw new IllegalArgumentException("field '" + key + "' must be a mapping, got " + v);
        }
        return (ObjectNode) v;
    }

    /** Fails on the first key of the config that no reader asked for. */
    public void rejectUnknown() {
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!read.contains(k)) {
                throw new IllegalArgumentException("unknown field '" + k + "'");
            }
        }
    }

    public static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
