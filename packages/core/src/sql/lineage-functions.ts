// What lineage knows about PostgreSQL's functions: which compute from their arguments alone,
// which run queries of their own, and how many columns common set-returning functions give.

/**
 * Built-ins that read tables or files named by an argument (a query string, a cursor, a table
 * name): their result cannot be traced from the parse tree, whatever the catalog says.
 */
export const TABLE_READING_FUNCTIONS: ReadonlySet<string> = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema',
  'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema',
  'cursor_to_xml', 'cursor_to_xmlschema',
  'schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema',
  'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
  'ts_stat', 'ts_rewrite', 'pg_read_file', 'pg_read_binary_file', 'lo_get', 'loread',
  'dblink', 'dblink_get_result', 'dblink_fetch', 'dblink_send_query',
]);

/**
 * PostgreSQL functions (pg_catalog) whose result depends on their arguments only, used when the
 * catalog does not answer functionIsPure. A user-defined function with the same name in another
 * schema is only taken for this when called unqualified (pg_catalog is searched first).
 */
const KNOWN_PURE: ReadonlySet<string> = new Set(`
  lower upper initcap length char_length character_length octet_length bit_length substr substring
  left right trim btrim ltrim rtrim lpad rpad replace translate reverse repeat concat concat_ws
  split_part position strpos starts_with format md5 sha224 sha256 sha384 sha512 encode decode
  to_hex ascii chr quote_ident quote_literal quote_nullable regexp_replace regexp_match
  regexp_matches regexp_substr regexp_count regexp_instr regexp_like regexp_split_to_array
  regexp_split_to_table string_to_array string_to_table array_to_string normalize overlay
  like_escape similar_to_escape textcat text varchar int2 int4 int8 float4 float8 numeric bool
  abs ceil ceiling floor round trunc mod power pow sqrt cbrt exp ln log log10 sign random div
  width_bucket scale gcd lcm factorial pi degrees radians
  now date_trunc date_part extract age to_char to_date to_timestamp to_number make_date
  make_time make_timestamp make_timestamptz make_interval clock_timestamp statement_timestamp
  transaction_timestamp timeofday date_bin justify_days justify_hours justify_interval timezone
  isfinite overlaps
  count sum avg min max string_agg array_agg json_agg jsonb_agg json_object_agg jsonb_object_agg
  bool_and bool_or every bit_and bit_or bit_xor stddev stddev_pop stddev_samp variance var_pop
  var_samp mode percentile_cont percentile_disc xmlagg any_value corr covar_pop covar_samp
  row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
  row_to_json to_json to_jsonb array_to_json json_build_object jsonb_build_object json_build_array
  jsonb_build_array json_object jsonb_object jsonb_set jsonb_insert jsonb_extract_path
  jsonb_extract_path_text json_extract_path json_extract_path_text jsonb_array_elements
  jsonb_array_elements_text json_array_elements json_array_elements_text jsonb_each
  jsonb_each_text json_each json_each_text jsonb_object_keys json_object_keys jsonb_typeof
  json_typeof jsonb_pretty jsonb_strip_nulls json_strip_nulls jsonb_array_length json_array_length
  jsonb_path_query jsonb_path_query_array jsonb_path_query_first jsonb_path_exists jsonb_path_match
  array_length cardinality unnest array_append array_prepend array_cat array_position
  array_positions array_remove array_replace generate_series generate_subscripts array_dims
  array_lower array_upper array_ndims array_fill trim_array array_sample array_shuffle
  pg_typeof gen_random_uuid uuidv4 uuidv7 version current_database current_schema
  txid_current pg_backend_pid num_nulls num_nonnulls nullif coalesce greatest least
  xmlelement xmlforest xmlconcat xmlparse xmlserialize xmlroot xpath xpath_exists
  inet_client_addr inet_server_addr host network netmask broadcast masklen family
  jsonb_agg_strict json_agg_strict json_object_agg_strict jsonb_object_agg_strict
  json_object_agg_unique jsonb_object_agg_unique range_agg range_intersect_agg
  pg_collation_for xmlexists is_normalized similar_escape
  nextval currval lastval setval current_setting set_config pg_sleep pg_current_xact_id
  format_type pg_get_userbyid pg_get_expr pg_get_constraintdef pg_get_indexdef pg_get_viewdef
  pg_get_functiondef pg_get_function_arguments pg_get_function_result pg_get_triggerdef
  pg_get_ruledef pg_get_partkeydef pg_get_statisticsobjdef pg_get_serial_sequence
  pg_table_is_visible pg_type_is_visible pg_function_is_visible obj_description col_description
  shobj_description pg_relation_size pg_total_relation_size pg_table_size pg_indexes_size
  pg_database_size pg_size_pretty pg_encoding_to_char to_regclass to_regtype to_regproc
  has_table_privilege has_column_privilege has_schema_privilege has_database_privilege
  has_function_privilege pg_has_role array_to_string pg_is_in_recovery
`.split(/\s+/).filter((name) => name.length > 0));

export function isKnownPure(schema: string | undefined, name: string): boolean {
  return (schema === undefined || schema === 'pg_catalog') && KNOWN_PURE.has(name);
}

/**
 * Output column count of a set-returning function used in FROM without a column list, for the
 * functions where it is fixed (1 for scalar results). undefined = not known here.
 */
export function functionColumnNames(name: string, argCount: number, alias: string | undefined): string[] | undefined {
  const one = [alias ?? name];
  switch (name) {
    case 'unnest':
      return argCount <= 1 ? one : Array.from({ length: argCount }, () => 'unnest');
    case 'generate_series': case 'generate_subscripts': case 'regexp_split_to_table':
    case 'string_to_table': case 'regexp_matches': case 'json_array_elements':
    case 'jsonb_array_elements': case 'json_array_elements_text': case 'jsonb_array_elements_text':
    case 'json_object_keys': case 'jsonb_object_keys': case 'jsonb_path_query':
      return one;
    case 'json_each': case 'jsonb_each': case 'json_each_text': case 'jsonb_each_text':
      return ['key', 'value'];
    default:
      return undefined;
  }
}
