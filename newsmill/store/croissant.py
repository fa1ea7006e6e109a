"""Croissant metadata (``croissant.json``, MLCommons Croissant 1.1) of a dataset version.

Why: dataset search engines, ``mlcroissant``, TFDS and the Hugging Face hub read Croissant to find,
check and load a dataset without reading its README. Like the card it is rendered from the
version's manifest and ``schemas/`` alone, written into the version next to the card and switched
with it, so it always names exactly the part files a reader of that version sees.

What it holds:

- one ``cr:FileObject`` per part file (path relative to the version folder, size, SHA-256 from
  the manifest: part files never change, so the checksums stay true for as long as the version
  exists), and one ``cr:FileSet`` per table whose ``includes`` glob is the table's partition
  layout (``articles/year=*/part-*``, which also matches a kept version's ``.pq`` names,
  ``newsmill.store.layout``): what a tool reads the records from;
- one ``cr:RecordSet`` per table with a ``cr:Field`` per schema field: dataType from the schema
  type, description from the schema, ``isArray`` for lists; hive partition columns, which live
  only in the path, extracted from the file's path with a regex; ``key`` = the primary key;
- licence and personal-data notes (the RAI vocabulary) in the same words as the card, and
  ``isLiveDataset``: the output gets a new version with each run.

Paths are relative to the folder holding ``croissant.json``: the version folder, or the output
folder through its stable links (``articles``, ``comments``), which have the same layout.
"""
from __future__ import annotations

import json

from newsmill import schema as schemas
from newsmill.store import card, layout

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
PARQUET = "application/x-parquet"

# The recommended JSON-LD context of Croissant 1.1 (its spec's appendix 1), written out so that no
# reader has to fetch one. schema.org as https://, as mlcroissant (the reference implementation) and
# the hub's own Croissant files write it: with the appendix's http:// mlcroissant finds no sc:Dataset.
CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "annotation": "cr:annotation",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "excludes": "cr:excludes",
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "readLines": "cr:readLines",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sdVersion": "cr:sdVersion",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "unArchive": "cr:unArchive",
    "value": "cr:value",
}

# schema type -> (Croissant dataType, is an array)
DATA_TYPES = {
    "string": ("sc:Text", False),
    "int32": ("cr:Int32", False),
    "int64": ("cr:Int64", False),
    "bool": ("sc:Boolean", False),
    "date": ("sc:Date", False),
    "timestamp": ("sc:DateTime", False),
    "list<string>": ("sc:Text", True),
}

# Foreign keys between the tables, for tools that join record sets (``references``).
REFERENCES = {("comments", "article_id"): ("articles", "article_id")}

DESCRIPTION = ("News articles and their reader comments, one record per article and one per comment, "
               "linked by article_id; extracted from captured news pages by newsmill, validated, and "
               "published as hive-partitioned Parquet (year= folders; rows ordered by source, then key, "
               "in files of a target size).")
KEYWORDS = ("news", "comments", "reader comments", "online discussion", "text", "parquet")


def render(m: dict) -> bytes:
    """``croissant.json`` of the version described by manifest ``m``."""
    return (json.dumps(document(m), indent=1, ensure_ascii=False) + "\n").encode()


def document(m: dict) -> dict:
    files, file_sets, record_sets = [], [], []
    for name in schemas.TABLES:
        s = schemas.load(name)
        t = m["tables"].get(name) or {"files": []}
        in_path = layout.folder_columns(t, s.partition_by)  # a kept version of an older layout: its own folders
        for f in t["files"]:
            rel = f"{name}/{f['path']}"
            files.append({"@type": "cr:FileObject", "@id": rel, "name": rel, "contentUrl": rel,
                          "contentSize": f"{f['bytes']} B", "encodingFormat": PARQUET, "sha256": f["sha256"],
                          "description": f"{f['rows']} {name} rows"})
        file_sets.append({"@type": "cr:FileSet", "@id": _file_set(name), "name": _file_set(name),
                          "description": f"The Parquet part files of the {name} table: each "
                                         f"{'/'.join(in_path) or 'table'} partition cut into files of "
                                         f"disjoint, ordered key ranges.",
                          "encodingFormat": PARQUET, "includes": layout.table_glob(name, in_path, any_role=True)})
        record_sets.append(_record_set(s, in_path))
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": "newsmill-dataset",
        "description": DESCRIPTION,
        "version": f"{m['version']}.0.0",
        "datePublished": m["created_at"],
        "dateModified": m["created_at"],
        "isLiveDataset": True,  # each run publishes a new version; this file describes one of them
        "keywords": list(KEYWORDS),
        "creator": {"@type": "sc:Organization", "name": "newsmill", "description":
                    f"newsmill {m['pipeline_version']}, run {m['run_id']}"},
        "license": {"@type": "sc:CreativeWork", "name": card.LICENCE_NAME, "description": card.COPYRIGHT},
        "citeAs": f"newsmill dataset, version {m['version']} ({m['version_dir']}), published {m['created_at']}.",
        "rai:dataCollection": card.COLLECTION,
        "rai:dataCollectionType": ["Web Scraping"],
        "rai:personalSensitiveInformation": card.personal_data(m),
        "rai:dataUseCases": card.USE,
        "rai:dataReleaseMaintenancePlan": card.MAINTENANCE,
        "distribution": [*files, *file_sets],
        "recordSet": record_sets,
    }


def _file_set(table: str) -> str:
    return f"{table}-parquet-files"


def _record_set(s: schemas.TableSchema, in_path: tuple[str, ...] | None = None) -> dict:
    fields = []
    for f in s.fields:
        data_type, is_array = DATA_TYPES[f.type]
        source: dict = {"fileSet": {"@id": _file_set(s.name)}}
        if f.name in (s.partition_by if in_path is None else in_path):  # in the file's path, not in the file
            source["extract"] = {"fileProperty": "fullpath"}
            source["transform"] = {"regex": rf"^(?:.*/)?{f.name}=([^/]+)/.*$"}
        else:
            source["extract"] = {"column": f.name}
        field = {"@type": "cr:Field", "@id": f"{s.name}/{f.name}", "name": f.name,
                 "description": f.description + ("" if f.nullable else " Never null."),
                 "dataType": data_type, "source": source}
        if is_array:
            field["isArray"] = True
            field["arrayShape"] = "-1"
        ref = REFERENCES.get((s.name, f.name))
        if ref:
            field["references"] = {"field": {"@id": f"{ref[0]}/{ref[1]}"}}
        fields.append(field)
    return {"@type": "cr:RecordSet", "@id": s.name, "name": s.name, "description": s.description,
            "key": [{"@id": f"{s.name}/{k}"} for k in s.primary_key], "field": fields}
