package maetok4j.data;

import java.util.random.RandomGenerator;

/** Seeded shuffling, shared by epoch orders, splits and token masks so all draw the same way. */
public final class Permutations {

    private Permutations() {}

    /** Fisher–Yates in place, from the last element down, one {@code nextInt(i + 1)} per step. */
    public static void shuffle(int[] a, RandomGenerator rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
