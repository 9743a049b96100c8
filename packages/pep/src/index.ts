export { UserError, maskCredentials } from './errors';
export { canonicalizeName } from './names';
export { isValidVersion, normalizeVersion, compareVersions, versionSatisfies, isValidSpecifier, normalizeSpecifier, InvalidSpecifier } from './version';
export type { MarkerEnvironment, Marker, MarkerCompare, MarkerBoolean, MarkerValue, MarkerOperator, MarkerVariableName } from './markers';
export { MarkerSyntaxError, MarkerEvaluationError, parseMarker, evaluateMarker, markerToString } from './markers';
export type { Requirement } from './requirement';
export { MAX_REQUIREMENT_LENGTH, RequirementSyntaxError, RequirementTooLongError, parseRequirement, formatRequirement } from './requirement';
export type { WheelFilename } from './wheel';
export { InvalidWheelFilename, parseWheelFilename, isWheelFilename, parseSdistFilename } from './wheel';
export type { InterpreterInfo, TargetPlatform } from './tags';
export {
  UnsupportedInterpreter,
  supportedTags,
  cpythonTagList,
  platformTags,
  manylinuxPlatforms,
  musllinuxPlatforms,
  macPlatforms,
  targetFromInterpreter,
  wheelRank,
  selectBestWheel,
} from './tags';
export type { PlatformSpec, IndexedFile } from './platforms';
export {
  InvalidPlatformError,
  parsePlatformSpec,
  formatPlatformSpec,
  platformTagsOf,
  abbreviatedMarkerEnvironment,
  abbreviatedPlatform,
  completePlatform,
  selectWheelFor,
  platformOfWheel,
  nearestPlatforms,
} from './platforms';
export { poetryConstraintToPep440 } from './poetry-constraint';
export { lastParsePerFile } from './memo';
export type { MarkerDnf, MarkerTerm, PythonRange, PythonRangeStyle } from './marker-algebra';
export {
  ALL_PYTHONS,
  MARKER_TRUE,
  MARKER_FALSE,
  markerDnf,
  andDnf,
  orDnf,
  simplifyDnf,
  bindExtras,
  negateDnf,
  dnfPythonRange,
  dnfIsFalse,
  dnfIsTrue,
  formatDnf,
  pythonRangeMarker,
  markerPythonRange,
  requiresPythonRange,
  lowestPython,
  rangeIntersect,
  rangeUnion,
  rangeWithin,
  rangeEquals,
} from './marker-algebra';
