import { describe, expect, it } from "vitest";
import {
  resolveBuckets,
  shippedBuckets,
  validateBucket,
  validateBucketId,
  type BucketSpec,
} from "../../components/storage/bucket-specs";

const allow = { allowPublicBuckets: true };
const forbid = { allowPublicBuckets: false };

describe("resolveBuckets", () => {
  it("fills in the defaults of a bare declaration", () => {
    expect(resolveBuckets([{ id: "docs" }], {}, allow)).toEqual({
      buckets: [
        {
          id: "docs",
          public: false,
          fileSizeLimit: null,
          allowedMimeTypes: null,
          forceDestroy: false,
          policies: "none",
        },
      ],
      problems: [],
    });
  });

  it("resolves the shipped buckets", () => {
    expect(resolveBuckets(shippedBuckets, {}, allow)).toEqual({
      buckets: [
        {
          id: "equipment-media",
          public: false,
          fileSizeLimit: 50 * 1024 * 1024,
          allowedMimeTypes: [
            "image/jpeg",
            "image/png",
            "image/webp",
            "video/mp4",
            "application/pdf",
          ],
          forceDestroy: false,
          policies: "owner-folder",
        },
        {
          id: "avatars",
          public: true,
          fileSizeLimit: 5 * 1024 * 1024,
          allowedMimeTypes: ["image/*"],
          forceDestroy: false,
          policies: "public-read",
        },
      ],
      problems: [],
    });
  });

  it.each([
    ["public", { public: true }, { public: true }],
    ["a human size", { fileSizeLimit: "50MB" }, { fileSizeLimit: 52428800 }],
    ["a byte count", { fileSizeLimit: 1000 }, { fileSizeLimit: 1000 }],
    [
      "MIME types",
      { allowedMimeTypes: ["text/csv", "text/csv"] },
      { allowedMimeTypes: ["text/csv"] },
    ],
    ["no MIME restriction", { allowedMimeTypes: [] }, { allowedMimeTypes: null }],
    ["forceDestroy", { forceDestroy: true }, { forceDestroy: true }],
  ])("applies an override of %s", (_what, override, expected) => {
    const declared: BucketSpec[] = [
      { id: "media", fileSizeLimit: "1MB", allowedMimeTypes: ["image/png"] },
    ];
    const { buckets, problems } = resolveBuckets(declared, { media: override }, allow);
    expect(problems).toEqual([]);
    expect(buckets[0]).toMatchObject(expected);
  });

  it("drops removed buckets (a removed public bucket is no problem)", () => {
    const { buckets, problems } = resolveBuckets(
      shippedBuckets,
      { avatars: { remove: true } },
      forbid,
      "prod",
    );
    expect(buckets.map((b) => b.id)).toEqual(["equipment-media"]);
    expect(problems).toEqual([]);
  });

  it("flags a public bucket when the stack's policy forbids them", () => {
    const { problems } = resolveBuckets(shippedBuckets, {}, forbid, "prod");
    expect(problems).toEqual([
      "bucket avatars is public but policy.allowPublicBuckets is false on stack prod; make it private (buckets.avatars.public: false) or allow public buckets",
    ]);
    expect(
      resolveBuckets(shippedBuckets, { avatars: { public: false } }, forbid, "prod").problems,
    ).toEqual([]);
  });

  it("lists every problem at once: unknown overrides, duplicates, invalid values", () => {
    const declared: BucketSpec[] = [
      { id: "docs" },
      { id: "docs" },
      { id: `x"; drop table storage.objects; --` },
      { id: "media", fileSizeLimit: "lots", allowedMimeTypes: ["image/png", "png"] },
    ];
    const { problems } = resolveBuckets(
      declared,
      { avatar: { public: true }, media: { public: true } },
      forbid,
      "staging",
    );
    expect(problems).toEqual([
      "bucket docs is declared more than once; bucket ids must be unique",
      `buckets.avatar in the stack config on stack staging names no bucket declared in code (declared: docs, docs, x"; drop table storage.objects; --, media); fix the id or declare the bucket`,
      `bucket x"; drop table storage.objects; --: bucket id "x\\"; drop table storage.objects; --" contains "\\"", which the Storage API does not allow; use letters, digits, spaces and _ ! . * ' ( ) & $ = @ ; : + , ? -`,
      'bucket media: fileSizeLimit must be a byte count or a size like "50MB", got "lots"',
      'bucket media: allowedMimeTypes has "png": each must be a MIME type like "image/png" or "image/*" (no parameters); leave the list out to accept any type',
      "bucket media is public but policy.allowPublicBuckets is false on stack staging; make it private (buckets.media.public: false) or allow public buckets",
    ]);
  });
});

describe("bucket validation", () => {
  it.each([
    ["avatars", true],
    ["Equipment Media (2026)!", true],
    ["x'); drop table storage.objects; --", true],
    ["a".repeat(100), true],
    ["", false],
    ["a".repeat(101), false],
    ['x"; drop table storage.objects; --', false],
    ["a/b", false],
    ["naïve", false],
    ["tab\there", false],
  ])("bucket id %j valid: %s", (id, valid) => {
    expect(validateBucketId(id) === undefined).toBe(valid);
  });

  it.each([
    ["image/png", true],
    ["image/*", true],
    ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true],
    ["image/svg+xml", true],
    ["*/*", false],
    ["image", false],
    ["image/png; charset=utf-8", false],
    ["image/png'", false],
    ["/png", false],
  ])("MIME type %j valid: %s", (type, valid) => {
    expect(validateBucket({ bucketId: "b", allowedMimeTypes: [type] })).toHaveLength(valid ? 0 : 1);
  });

  it("checks sizes, flags and policy modes", () => {
    expect(
      validateBucket({
        bucketId: "b",
        fileSizeLimit: -1,
        public: "no",
        forceDestroy: 1,
        policies: "all",
      }).map((p) => p.property),
    ).toEqual(["public", "forceDestroy", "fileSizeLimit", "policies"]);
    expect(
      validateBucket({
        bucketId: "b",
        fileSizeLimit: 0,
        public: true,
        forceDestroy: false,
        policies: "owner-folder",
      }),
    ).toEqual([]);
  });
});
